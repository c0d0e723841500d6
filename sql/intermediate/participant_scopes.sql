-- participant_scopes: each person merged within a scope (a sub-project, or the whole project), as ESF
-- counts participants: first start; active at the report date if any enrolment is ongoing then;
-- otherwise exited at the latest end date with that enrolment's outcome (ties: later start, then outcome).
-- Only enrolments that started on or before the project's report date count.
with dated as (
    select e.*, p.report_date
    from enrolments as e
    join projects as p on p.project_id = e.project_id
    where e.start_date <= p.report_date
),

scoped as (
    select 'subproject' as level, subproject_id as scope_subproject_id, d.* from dated as d
    union all
    select 'project' as level, cast(null as varchar) as scope_subproject_id, d.* from dated as d
),

ranked as (
    select
        s.*,
        row_number() over (
            partition by level, project_id, scope_subproject_id, participant_id
            order by end_date desc nulls first, start_date desc, exit_outcome asc nulls last
        ) as exit_rank
    from scoped as s
),

merged as (
    select
        level,
        project_id,
        scope_subproject_id as subproject_id,
        participant_id,
        min(gender) as gender,
        min(start_date) as first_start,
        max(report_date) as report_date,
        count(*) as enrolments,
        count(distinct subproject_id) as subprojects,
        bool_or(end_date is null or end_date > report_date) as active
    from scoped
    group by level, project_id, scope_subproject_id, participant_id
),

last_exit as (
    select level, project_id, scope_subproject_id as subproject_id, participant_id,
        end_date, exit_outcome, subsidised_employment, qualification_gained
    from ranked
    where exit_rank = 1
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
        m.subprojects,
        m.active,
        not m.active as exited,
        case when m.active then null else l.end_date end as exit_date,
        case when m.active then null else l.exit_outcome end as exit_outcome,
        case when m.active then null else l.subsidised_employment end as subsidised_employment,
        case when m.active then null else l.qualification_gained end as qualification_gained
    from merged as m
    join last_exit as l
        on l.level = m.level
        and l.project_id = m.project_id
        and l.participant_id = m.participant_id
        and (l.subproject_id = m.subproject_id or (l.subproject_id is null and m.subproject_id is null))
)

select * from final
order by level, project_id, subproject_id, participant_id
