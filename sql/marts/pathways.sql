-- pathways: the path from unemployment to self-sufficiency as data. One row per participant and step
-- reached, for the activity types that are ordered steps of the path (path_steps):
--   1 mapping · 2 language (SFI) · 3 adult_education · 4 vocational_training (incl. apprenticeship)
--   5 work_training (incl. internship) · 6 matching · 7 employment
-- sequence orders a person's steps by first start; next_step and days_to_next_step give the transition
-- out of the step; is_current marks where the person is at the report date (the step started last).
with logged as (
    select a.*, p.report_date
    from activities as a
    join projects as p on p.project_id = a.project_id
    where a.start_date <= p.report_date
),

by_type as (
    select
        project_id,
        participant_id,
        activity_type,
        min(start_date) as first_start,
        max(coalesce(least(end_date, report_date), report_date)) as last_end,
        bool_or(end_date is null or end_date > report_date) as ongoing,
        -- Rounded to a millionth: a sum of doubles depends on the order the rows arrive in, and re-runs must
        -- write the same numbers.
        round(sum(hours), 6) as hours,
        count(*) as activities,
        max(report_date) as report_date
    from logged
    group by project_id, participant_id, activity_type
),

-- The steps are picked after the aggregate, not before: a sort straight after a large aggregate can
-- exhaust the memory pool (DataFusion 55 counts every slice of the aggregate's output at the size of the
-- whole), and the join writes new batches.
per_step as (
    select b.project_id, b.participant_id, b.activity_type as step, s.step_order, b.first_start, b.last_end,
        b.ongoing, b.hours, b.activities, b.report_date
    from path_steps as s
    join by_type as b on b.activity_type = s.step
),

-- A person's steps in order by windows without PARTITION BY: DataFusion keeps state per window partition,
-- and one partition per person (millions of tiny ones) cost seconds per million steps. Over the one order of
-- all steps (project, participant, first start, step order), the sequence is the row number counted from
-- the person's first row (`rank()` over project and participant), and the next step is the next row's when
-- that row is the same person's. A person's furthest step and number of steps come from an aggregate joined
-- back (frames over each person's rows were as slow as the partitions).
sequenced as (
    select
        p.*,
        cast(
            row_number() over w
            - rank() over (order by project_id, participant_id) + 1
            as bigint
        ) as sequence,
        case when lead(participant_id) over w = participant_id and lead(project_id) over w = project_id
            then lead(step) over w
        end as next_step,
        case when lead(participant_id) over w = participant_id and lead(project_id) over w = project_id
            then lead(first_start) over w
        end as next_start
    from per_step as p
    window w as (order by project_id, participant_id, first_start, step_order)
),

per_person as (
    select project_id, participant_id, max(step_order) as furthest_step_order, count(*) as steps_taken
    from per_step
    group by project_id, participant_id
),

final as (
    select
        s.project_id,
        s.participant_id,
        s.step,
        s.step_order,
        s.sequence,
        s.first_start,
        s.last_end,
        cast(s.last_end - s.first_start as bigint) + 1 as days_in_step,
        s.hours,
        s.activities,
        s.ongoing,
        s.next_step,
        cast(s.next_start - s.first_start as bigint) as days_to_next_step,
        s.next_step is null as is_current,
        s.step_order = pp.furthest_step_order as is_furthest,
        pp.steps_taken,
        s.report_date
    -- The narrow side first: DataFusion holds the left side of a join in memory.
    from per_person as pp
    join sequenced as s on s.project_id = pp.project_id and s.participant_id = pp.participant_id
)

-- In the windows' order (the same as by sequence), so no sort after them.
select * from final
order by project_id, participant_id, first_start, step_order
