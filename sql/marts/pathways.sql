-- pathways: the path from unemployment to self-sufficiency as data. One row per participant and step
-- reached, for the activity types that are ordered steps of the path (path_steps):
--   1 mapping · 2 language (SFI) · 3 adult_education · 4 vocational_training (incl. apprenticeship)
--   5 work_training (incl. internship) · 6 matching · 7 employment
-- sequence orders a person's steps by first start; next_step and days_to_next_step give the transition
-- out of the step; is_current marks where the person is at the report date (the step started last).
with logged as (
    select a.*, s.step_order, p.report_date
    from activities as a
    join path_steps as s on s.step = a.activity_type
    join projects as p on p.project_id = a.project_id
    where a.start_date <= p.report_date
),

per_step as (
    select
        project_id,
        participant_id,
        activity_type as step,
        step_order,
        min(start_date) as first_start,
        max(coalesce(least(end_date, report_date), report_date)) as last_end,
        bool_or(end_date is null or end_date > report_date) as ongoing,
        sum(hours) as hours,
        count(*) as activities,
        max(report_date) as report_date
    from logged
    group by project_id, participant_id, activity_type, step_order
),

sequenced as (
    select
        p.*,
        cast(row_number() over (partition by project_id, participant_id order by first_start, step_order)
            as bigint) as sequence,
        lead(step) over (partition by project_id, participant_id order by first_start, step_order)
            as next_step,
        lead(first_start) over (partition by project_id, participant_id order by first_start, step_order)
            as next_start,
        max(step_order) over (partition by project_id, participant_id) as furthest_step_order,
        count(*) over (partition by project_id, participant_id) as steps_taken
    from per_step as p
),

final as (
    select
        project_id,
        participant_id,
        step,
        step_order,
        sequence,
        first_start,
        last_end,
        cast(last_end - first_start as bigint) + 1 as days_in_step,
        hours,
        activities,
        ongoing,
        next_step,
        cast(next_start - first_start as bigint) as days_to_next_step,
        next_step is null as is_current,
        step_order = furthest_step_order as is_furthest,
        steps_taken,
        report_date
    from sequenced
)

select * from final
order by project_id, participant_id, sequence
