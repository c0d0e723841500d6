-- not_null: the columns every enrolment must have.
select project_id, subproject_id, source_file, source_row
from enrolments
where project_id is null or subproject_id is null or municipality_code is null or participant_id is null
    or gender is null or start_date is null or id_kind is null or export_date is null or source_file is null
