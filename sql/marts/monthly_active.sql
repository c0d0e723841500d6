-- monthly_active: per project (unique individuals) and sub-project, per calendar month from the project
-- start to the report date, and per gender (woman, man, total): participants active at some time in the
-- month, first starts in the month and exits in the month (in the row's scope). For time-series
-- dashboards; the last month is counted up to the report date.
with months as (
    select
        project_id,
        unnest(generate_series(
            cast(date_trunc('month', period_start) as date),
            least(report_date, period_end),
            interval '1 month'
        )) as month
    from projects
),

month_bounds as (
    select
        m.project_id,
        m.month,
        least(cast(m.month + interval '1 month' - interval '1 day' as date), p.report_date) as month_end
    from months as m
    join projects as p on p.project_id = m.project_id
),

stints as (
    select 'subproject' as level, e.subproject_id as scope_subproject_id, e.*
    from enrolments as e
    union all
    select 'project' as level, cast(null as varchar) as scope_subproject_id, e.*
    from enrolments as e
),

-- Each stint is expanded into the months it touches (from its start month to its end month, or the report
-- date's), then joined to the project's months by equality: linear in the number of stints, where joining
-- every stint to every month of the project by a date range grew with stints × months.
stint_months as (
    select
        s.level, s.project_id, s.scope_subproject_id as subproject_id, s.gender, s.participant_id,
        s.start_date,
        unnest(generate_series(
            cast(date_trunc('month', s.start_date) as date),
            cast(date_trunc('month', least(coalesce(s.end_date, p.report_date), p.report_date)) as date),
            interval '1 month'
        )) as month
    from stints as s
    join projects as p on p.project_id = s.project_id
    where s.start_date <= p.report_date
),

active as (
    select
        sm.level, sm.project_id, sm.subproject_id, sm.month, sm.gender,
        count(distinct sm.participant_id) as active
    from stint_months as sm
    join month_bounds as b on b.project_id = sm.project_id and b.month = sm.month
    where sm.start_date <= b.month_end
    group by sm.level, sm.project_id, sm.subproject_id, sm.month, sm.gender
),

-- A person's first start and exit each fall in one month: joined to that month by equality.
flow_events as (
    select ps.level, ps.project_id, ps.subproject_id, b.month, ps.gender, 1 as starts, 0 as exits
    from participant_scopes as ps
    join month_bounds as b
        on b.project_id = ps.project_id and b.month = cast(date_trunc('month', ps.first_start) as date)
    where ps.first_start <= b.month_end
    union all
    select ps.level, ps.project_id, ps.subproject_id, b.month, ps.gender, 0 as starts, 1 as exits
    from participant_scopes as ps
    join month_bounds as b
        on b.project_id = ps.project_id and b.month = cast(date_trunc('month', ps.exit_date) as date)
    where ps.exited and ps.exit_date <= b.month_end
),

flows as (
    select level, project_id, subproject_id, month, gender, sum(starts) as starts, sum(exits) as exits
    from flow_events
    group by level, project_id, subproject_id, month, gender
),

by_gender as (
    select
        coalesce(a.level, f.level) as level,
        coalesce(a.project_id, f.project_id) as project_id,
        coalesce(a.subproject_id, f.subproject_id) as subproject_id,
        coalesce(a.month, f.month) as month,
        coalesce(a.gender, f.gender) as gender,
        coalesce(a.active, 0) as active,
        coalesce(f.starts, 0) as starts,
        coalesce(f.exits, 0) as exits
    from active as a
    full outer join flows as f
        on f.level = a.level and f.project_id = a.project_id and f.month = a.month and f.gender = a.gender
        and (f.subproject_id = a.subproject_id or (f.subproject_id is null and a.subproject_id is null))
),

scopes as (
    select 'project' as level, project_id, cast(null as varchar) as subproject_id from projects
    union all
    select 'subproject' as level, project_id, subproject_id from subprojects
),

grid as (
    select s.level, s.project_id, s.subproject_id, b.month, g.gender
    from scopes as s
    join month_bounds as b on b.project_id = s.project_id
    cross join (values ('woman'), ('man')) as g(gender)
),

filled as (
    select
        g.project_id, g.level, g.subproject_id, g.month, g.gender,
        coalesce(x.active, 0) as active,
        coalesce(x.starts, 0) as starts,
        coalesce(x.exits, 0) as exits
    from grid as g
    left join by_gender as x
        on x.level = g.level and x.project_id = g.project_id and x.month = g.month and x.gender = g.gender
        and (x.subproject_id = g.subproject_id or (x.subproject_id is null and g.subproject_id is null))
),

final as (
    select * from filled
    union all
    select project_id, level, subproject_id, month, 'total' as gender,
        sum(active) as active, sum(starts) as starts, sum(exits) as exits
    from filled
    group by project_id, level, subproject_id, month
)

select * from final
order by project_id, case level when 'project' then 0 else 1 end, subproject_id, month,
    case gender when 'total' then 0 when 'woman' then 1 else 2 end
