-- accepted_values and not_null on the canonical enrolments.
select project_id, source_file, source_row, gender, exit_outcome
from enrolments
where gender not in ('woman', 'man')
    or (exit_outcome is not null and exit_outcome not in ('work', 'studies', 'job_seeking', 'other'))
    or participant_id is null
    or length(participant_id) <> 32
    or (end_date is not null and end_date < start_date)
