-- participant_scopes: each person merged within a scope (a sub-project, or the whole project), as ESF
-- counts participants: first start; active at the report date if any enrolment is ongoing then;
-- otherwise exited at the latest end date with that enrolment's outcome (ties: later start, then outcome;
-- then, deterministically, subsidised and qualification if any tied enrolment says so).
-- Only enrolments that started on or before the project's report date count.
-- The last exit is found with aggregates and equality joins (latest end, then latest start among those,
-- then the first outcome): row_number() over millions of one-row partitions is slow in DataFusion.
with dated as (
    select e.*, p.report_date
    from enrolments as e
    join projects as p on p.project_id = e.project_id
    where e.start_date <= p.report_date
),

scoped as (
    select 'subproject' as level, subproject_id as scope_subproject_id, subproject_id as scope_key, d.*
    from dated as d
    union all
    select 'project' as level, cast(null as varchar) as scope_subproject_id, '' as scope_key, d.*
    from dated as d
),

merged as (
    select
        level,
        project_id,
        scope_key,
        max(scope_subproject_id) as subproject_id,
        participant_id,
        min(gender) as gender,
        min(start_date) as first_start,
        max(report_date) as report_date,
        count(*) as enrolments,
        bool_or(end_date is null or end_date > report_date) as active,
        max(end_date) as last_end
    from scoped
    group by level, project_id, scope_key, participant_id
),

-- How many sub-projects each person took part in (count(distinct) per group is slow in DataFusion: it keeps
-- a hash set per group).
subproject_counts as (
    select project_id, participant_id, count(*) as subprojects
    from (select distinct project_id, participant_id, subproject_id from dated) as x
    group by project_id, participant_id
),

-- Only people who exited need their last exit: every end date is then known and on or before the report date.
last_start as (
    select s.level, s.project_id, s.scope_key, s.participant_id, m.last_end, max(s.start_date) as last_start
    from scoped as s
    join merged as m
        on m.level = s.level and m.project_id = s.project_id and m.scope_key = s.scope_key
        and m.participant_id = s.participant_id and m.last_end = s.end_date
    where not m.active
    group by s.level, s.project_id, s.scope_key, s.participant_id, m.last_end
),

last_outcome as (
    select s.level, s.project_id, s.scope_key, s.participant_id, l.last_end, l.last_start,
        min(s.exit_outcome) as exit_outcome
    from scoped as s
    join last_start as l
        on l.level = s.level and l.project_id = s.project_id and l.scope_key = s.scope_key
        and l.participant_id = s.participant_id and l.last_end = s.end_date
        and l.last_start = s.start_date
    group by s.level, s.project_id, s.scope_key, s.participant_id, l.last_end, l.last_start
),

last_exit as (
    select s.level, s.project_id, s.scope_key, s.participant_id,
        max(s.end_date) as end_date,
        max(s.exit_outcome) as exit_outcome,
        bool_or(s.subsidised_employment) as subsidised_employment,
        bool_or(s.qualification_gained) as qualification_gained
    from scoped as s
    join last_outcome as o
        on o.level = s.level and o.project_id = s.project_id and o.scope_key = s.scope_key
        and o.participant_id = s.participant_id and o.last_end = s.end_date
        and o.last_start = s.start_date
        and coalesce(o.exit_outcome, '') = coalesce(s.exit_outcome, '')
    group by s.level, s.project_id, s.scope_key, s.participant_id
),

final as (
    select
        m.level,
        m.project_id,
        m.subproject_id,
        m.participant_id,
        m.gender,
        m.first_start,
        m.report_date,
        m.enrolments,
        case when m.level = 'subproject' then cast(1 as bigint) else c.subprojects end as subprojects,
        m.active,
        not m.active as exited,
        l.end_date as exit_date,
        l.exit_outcome,
        l.subsidised_employment,
        l.qualification_gained
    from merged as m
    join subproject_counts as c on c.project_id = m.project_id and c.participant_id = m.participant_id
    left join last_exit as l
        on l.level = m.level and l.project_id = m.project_id and l.scope_key = m.scope_key
        and l.participant_id = m.participant_id
)

select * from final
order by level, project_id, subproject_id, participant_id
