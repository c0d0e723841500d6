-- participant_activities: which activity types (insatser) each person took part in within a project,
-- from the activity logs and from the activity column of enrolment lists, counting only what started on or
-- before the project's report date.
with from_logs as (
    select a.project_id, a.participant_id, a.activity_type
    from activities as a
    join projects as p on p.project_id = a.project_id
    where a.start_date <= p.report_date
),

from_enrolments as (
    select e.project_id, e.participant_id, e.activity_type
    from enrolments as e
    join projects as p on p.project_id = e.project_id
    where e.activity_type is not null and e.start_date <= p.report_date
),

final as (
    select distinct project_id, participant_id, activity_type
    from (select * from from_logs union all select * from from_enrolments) as a
)

-- Not sorted: a sort straight after a large aggregate can exhaust the memory pool (DataFusion 55 counts
-- every slice of the aggregate's output at the size of the whole), and nobody reads a per-person table
-- in file order.
select * from final
