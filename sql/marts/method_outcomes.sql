-- method_outcomes: per project, activity type (method) and gender: how many participants took part in it
-- (up to the report date), how many of them have exited, and the share of exits that went to work or
-- studies. A person with several activity types counts under each; the seeds exist to find out which
-- methods work, so this compares methods within a project, not a causal effect.
with people as (
    select pa.activity_type, pe.*
    from participant_activities as pa
    join participant_entry as pe
        on pe.project_id = pa.project_id and pe.participant_id = pa.participant_id
),

-- Women, men and their total in one pass over the people (referring to them twice would join twice).
counted as (
    select
        project_id,
        activity_type,
        coalesce(gender, 'total') as gender,
        count(*) as participants,
        sum(case when exited then 1 else 0 end) as exited,
        sum(case when exited and exit_outcome = 'work' then 1 else 0 end) as exits_work,
        sum(case when exited and exit_outcome = 'studies' then 1 else 0 end) as exits_studies,
        sum(case when exited and exit_outcome in ('work', 'studies') then 1 else 0 end) as exits_work_or_studies
    from people
    group by grouping sets ((project_id, activity_type, gender), (project_id, activity_type))
),

types as (
    select distinct project_id, activity_type from participant_activities
),

grid as (
    select t.project_id, t.activity_type, g.gender
    from types as t
    cross join (values ('total'), ('woman'), ('man')) as g(gender)
),

final as (
    select
        g.project_id,
        g.activity_type,
        g.gender,
        coalesce(c.participants, 0) as participants,
        coalesce(c.exited, 0) as exited,
        coalesce(c.exits_work, 0) as exits_work,
        coalesce(c.exits_studies, 0) as exits_studies,
        coalesce(c.exits_work_or_studies, 0) as exits_work_or_studies,
        case when c.exited > 0 then cast(c.exits_work_or_studies as double) / c.exited end
            as share_exits_work_or_studies
    from grid as g
    left join counted as c
        on c.project_id = g.project_id and c.activity_type = g.activity_type and c.gender = g.gender
)

select * from final
order by project_id, activity_type, case gender when 'total' then 0 when 'woman' then 1 else 2 end
