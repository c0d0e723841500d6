-- pathway_steps: per project and step of the path, how many participants reached the step, how many are
-- at it now (their latest step at the report date), how long the step takes (median and mean days from
-- first start to last end) and how many went on to a later step.
with projects_with_paths as (
    select distinct project_id from pathways
),

counted as (
    select
        project_id,
        step,
        count(*) as participants_reached,
        sum(case when is_current then 1 else 0 end) as participants_current,
        sum(case when next_step is not null then 1 else 0 end) as moved_on,
        median(cast(days_in_step as double)) as median_days_in_step,
        avg(cast(days_in_step as double)) as mean_days_in_step
    from pathways
    group by project_id, step
),

final as (
    select
        p.project_id,
        s.step,
        s.step_order,
        coalesce(c.participants_reached, 0) as participants_reached,
        coalesce(c.participants_current, 0) as participants_current,
        coalesce(c.moved_on, 0) as moved_on,
        c.median_days_in_step,
        round(c.mean_days_in_step, 1) as mean_days_in_step
    from projects_with_paths as p
    cross join path_steps as s
    left join counted as c on c.project_id = p.project_id and c.step = s.step
)

select * from final
order by project_id, step_order
