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

-- Each stint covers a range of months, clipped to the project's months (from the month of period_start to
-- that of the report date or period_end); a stint that starts on or before the report date is active in
-- every month from its start to its end. A person's stints in a scope may overlap or follow each other, so
-- they are merged into spells ("islands"): a spell starts in a stint's first month that no other stint of
-- the person covers the month before, and ends in a stint's last month that no other stint covers the month
-- after. The people active in a month are then the spells started up to it minus those ended before it:
-- +1 in a spell's first month, -1 after its last, summed up to each month. Linear in the stints, with
-- memory in the number of months, not people × months.
-- For speed the stints carry integers only (text is several times slower to hash and copy): the scope
-- (project or sub-project) and gender as one number, `scope_key`, named again only once the deltas are
-- summed; the person as person_key(participant_id); a sub-project by its rank within the project. The
-- numbers come from one join to the small table of sub-projects: every enrolment has a known sub-project
-- and a gender of woman or man, else the data tests `enrolments_relationships` and
-- `enrolments_accepted_values` block publication (a stint of another gender has no scope_key and is not
-- counted; nor was it before, as the months are filled for women and men only).
scope_numbers as (
    select
        s.project_id, s.subproject_id, p.period_start, p.period_end, p.report_date,
        row_number() over (order by s.project_id, s.subproject_id) as subproject_number,
        dense_rank() over (order by s.project_id) as project_number,
        row_number() over (partition by s.project_id order by s.subproject_id) as sub_rank
    from subprojects as s
    join projects as p on p.project_id = s.project_id
),

scope_names as (
    select 4 * (2 * n.subproject_number) + g.code as scope_key,
        'subproject' as level, n.project_id, n.subproject_id, g.gender
    from scope_numbers as n
    cross join (values ('woman', 1), ('man', 2)) as g(gender, code)
    union all
    select distinct 4 * (2 * n.project_number + 1) + g.code as scope_key,
        'project' as level, n.project_id, cast(null as varchar) as subproject_id, g.gender
    from scope_numbers as n
    cross join (values ('woman', 1), ('man', 2)) as g(gender, code)
),

stints as (
    select
        n.subproject_number, n.project_number,
        case e.gender when 'woman' then 1 when 'man' then 2 end as gender_code,
        person_key(e.participant_id) as person, e.start_date, n.sub_rank,
        cast(date_trunc('month', greatest(e.start_date, n.period_start)) as date) as first_month,
        cast(date_trunc('month', least(coalesce(e.end_date, n.report_date), n.report_date, n.period_end)) as date)
            as last_month
    from enrolments as e
    join scope_numbers as n on n.project_id = e.project_id and n.subproject_id = e.subproject_id
    where e.start_date <= n.report_date
),

-- Each stint counts in its sub-project and in its project.
spans as (
    select
        4 * (case l.level when 0 then 2 * s.subproject_number else 2 * s.project_number + 1 end) + s.gender_code
            as scope_key,
        s.person, s.start_date, s.sub_rank, s.first_month, s.last_month
    from stints as s
    cross join (values (0), (1)) as l(level)
    where s.first_month <= s.last_month
),

-- Stints starting (ending) in the same month as another stint of the person start (end) the same spell: it
-- is counted once, from the stint that starts first (then: the lowest sub-project id).
spell_starts as (
    select s.scope_key, s.first_month as month
    from spans as s
    where not exists (
        select 1 from spans as t
        where t.scope_key = s.scope_key and t.person = s.person
            and (
                (t.first_month < s.first_month and t.last_month >= cast(s.first_month - interval '1 month' as date))
                or (t.first_month = s.first_month and (t.start_date < s.start_date
                    or (t.start_date = s.start_date and t.sub_rank < s.sub_rank)))
            )
    )
),

spell_ends as (
    select s.scope_key, cast(s.last_month + interval '1 month' as date) as month
    from spans as s
    where not exists (
        select 1 from spans as t
        where t.scope_key = s.scope_key and t.person = s.person
            and (
                (t.last_month > s.last_month and t.first_month <= cast(s.last_month + interval '1 month' as date))
                or (t.last_month = s.last_month and (t.start_date < s.start_date
                    or (t.start_date = s.start_date and t.sub_rank < s.sub_rank)))
            )
    )
),

deltas as (
    select n.level, n.project_id, n.subproject_id, n.gender, d.month, d.delta
    from (
        select scope_key, month, sum(delta) as delta
        from (
            select scope_key, month, 1 as delta from spell_starts
            union all
            select scope_key, month, -1 as delta from spell_ends
        ) as u
        group by scope_key, month
    ) as d
    join scope_names as n on n.scope_key = d.scope_key
),

active as (
    select d.level, d.project_id, d.subproject_id, b.month, d.gender, sum(d.delta) as active
    from month_bounds as b
    join deltas as d on d.project_id = b.project_id and d.month <= b.month
    group by d.level, d.project_id, d.subproject_id, b.month, d.gender
),

-- A person's first start and exit each fall in one month: joined to that month by equality. The months come
-- first: DataFusion holds the left side of a join in memory, and there are a few dozen months per project.
flow_events as (
    select ps.level, ps.project_id, ps.subproject_id, b.month, ps.gender, 1 as starts, 0 as exits
    from month_bounds as b
    join participant_scopes as ps
        on ps.project_id = b.project_id and cast(date_trunc('month', ps.first_start) as date) = b.month
    where ps.first_start <= b.month_end
    union all
    select ps.level, ps.project_id, ps.subproject_id, b.month, ps.gender, 0 as starts, 1 as exits
    from month_bounds as b
    join participant_scopes as ps
        on ps.project_id = b.project_id and cast(date_trunc('month', ps.exit_date) as date) = b.month
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

-- Women, men and their total in one pass (referring to `filled` twice would compute it twice).
final as (
    select project_id, level, subproject_id, month, coalesce(gender, 'total') as gender,
        sum(active) as active, sum(starts) as starts, sum(exits) as exits
    from filled
    group by grouping sets (
        (project_id, level, subproject_id, month, gender),
        (project_id, level, subproject_id, month)
    )
)

select * from final
order by project_id, case level when 'project' then 0 else 1 end, subproject_id, month,
    case gender when 'total' then 0 when 'woman' then 1 else 2 end
