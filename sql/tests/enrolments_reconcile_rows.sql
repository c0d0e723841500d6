-- Reconciliation between layers: every staged enrolment row is kept or superseded by a newer export of the
-- same enrolment, and no enrolment appears that no staged row carries.
with staged as (
    select count(*) as rows_staged from enrolment_rows
),

-- Distinct keys as a grouped subquery: a count(distinct) over concatenated keys ran on one thread.
staged_keys as (
    select count(*) as distinct_keys
    from (select distinct project_id, subproject_id, participant_id, start_date from enrolment_rows) as k
),

kept as (
    select count(*) as enrolments, sum(versions_seen) as versions from enrolments
)

select s.rows_staged, d.distinct_keys, k.enrolments, k.versions
from staged as s cross join staged_keys as d cross join kept as k
where d.distinct_keys <> k.enrolments or s.rows_staged <> k.versions
