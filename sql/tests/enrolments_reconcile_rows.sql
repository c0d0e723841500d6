-- Reconciliation between layers: every staged enrolment row is kept or superseded by a newer export of the
-- same enrolment, and no enrolment appears that no staged row carries.
with staged as (
    select count(*) as rows_staged,
        count(distinct project_id || '|' || subproject_id || '|' || participant_id || '|' || cast(start_date as varchar))
            as distinct_keys
    from enrolment_rows
),

kept as (
    select count(*) as enrolments, sum(versions_seen) as versions from enrolments
)

select s.rows_staged, s.distinct_keys, k.enrolments, k.versions
from staged as s cross join kept as k
where s.distinct_keys <> k.enrolments or s.rows_staged <> k.versions
