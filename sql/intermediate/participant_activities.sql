-- participant_activities: which activity types (insatser) each person took part in within a project,
-- from the activity logs and from the activity column of enrolment lists.
with from_logs as (
    select project_id, participant_id, activity_type from activities
),

from_enrolments as (
    select project_id, participant_id, activity_type from enrolments where activity_type is not null
),

final as (
    select distinct project_id, participant_id, activity_type
    from (select * from from_logs union all select * from from_enrolments) as a
)

select * from final
order by project_id, participant_id, activity_type
