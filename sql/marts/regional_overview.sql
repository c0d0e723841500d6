-- regional_overview: per project × sub-project × gender (woman, man, total) at the project's report date.
-- `participants` counts unique individuals in the row's scope (ESF counting); `enrolments` counts
-- enrolment stints. Project rows (level = 'project') count each person once even when they took part in
-- several sub-projects, so sub-project rows need not add up to the project row.
with genders as (
    select 'woman' as gender union all select 'man' union all select 'total'
),

scopes as (
    select 'project' as level, p.project_id, cast(null as varchar) as subproject_id,
        cast(null as varchar) as subproject_name, cast(null as varchar) as municipality_code
    from projects as p
    union all
    select 'subproject' as level, s.project_id, s.subproject_id, s.name, s.municipality_code
    from subprojects as s
),

people as (
    select level, project_id, subproject_id, gender, active, exited, exit_outcome, enrolments
    from participant_scopes
    union all
    select level, project_id, subproject_id, 'total' as gender, active, exited, exit_outcome, enrolments
    from participant_scopes
),

counted as (
    select
        level,
        project_id,
        subproject_id,
        gender,
        sum(enrolments) as enrolments,
        count(*) as participants,
        sum(case when active then 1 else 0 end) as active,
        sum(case when exited then 1 else 0 end) as exited,
        sum(case when exited and exit_outcome = 'work' then 1 else 0 end) as exits_work,
        sum(case when exited and exit_outcome = 'studies' then 1 else 0 end) as exits_studies,
        sum(case when exited and exit_outcome = 'job_seeking' then 1 else 0 end) as exits_job_seeking,
        sum(case when exited and exit_outcome = 'other' then 1 else 0 end) as exits_other,
        sum(case when exited and exit_outcome is null then 1 else 0 end) as exits_no_outcome
    from people
    group by level, project_id, subproject_id, gender
),

grid as (
    select s.*, g.gender, p.name as project_name, p.report_date
    from scopes as s
    cross join genders as g
    join projects as p on p.project_id = s.project_id
),

joined as (
    select
        g.project_id,
        g.project_name,
        g.level,
        g.subproject_id,
        g.subproject_name,
        g.municipality_code,
        g.gender,
        g.report_date,
        coalesce(c.enrolments, 0) as enrolments,
        coalesce(c.participants, 0) as participants,
        coalesce(c.active, 0) as active,
        coalesce(c.exited, 0) as exited,
        coalesce(c.exits_work, 0) as exits_work,
        coalesce(c.exits_studies, 0) as exits_studies,
        coalesce(c.exits_job_seeking, 0) as exits_job_seeking,
        coalesce(c.exits_other, 0) as exits_other,
        coalesce(c.exits_no_outcome, 0) as exits_no_outcome
    from grid as g
    left join counted as c
        on c.level = g.level
        and c.project_id = g.project_id
        and c.gender = g.gender
        and (c.subproject_id = g.subproject_id or (c.subproject_id is null and g.subproject_id is null))
),

women as (
    select project_id, level, subproject_id, participants as women
    from joined
    where gender = 'woman'
),

final as (
    select
        j.*,
        case
            when j.gender = 'total' and j.participants > 0
                then cast(w.women as double) / j.participants
        end as share_women,
        case
            when j.exited > 0
                then cast(j.exits_work + j.exits_studies as double) / j.exited
        end as share_exits_work_or_studies
    from joined as j
    left join women as w
        on w.project_id = j.project_id
        and w.level = j.level
        and (w.subproject_id = j.subproject_id or (w.subproject_id is null and j.subproject_id is null))
)

select * from final
order by project_id, case level when 'project' then 0 else 1 end, subproject_id,
    case gender when 'total' then 0 when 'woman' then 1 else 2 end
