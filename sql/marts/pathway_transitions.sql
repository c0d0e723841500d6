-- pathway_transitions: per project, the moves between steps of the path (from the step a person was at to
-- the next one they started), with how many made each move and the median days between the two starts.
-- A backward move (to an earlier step) is shown as such: the path is a model, people do not always follow it.
with moves as (
    select project_id, step as from_step, step_order as from_order, next_step as to_step, days_to_next_step
    from pathways
    where next_step is not null
),

final as (
    select
        m.project_id,
        m.from_step,
        m.to_step,
        case when o.step_order > m.from_order then 'forward' else 'backward' end as direction,
        count(*) as participants,
        median(cast(m.days_to_next_step as double)) as median_days_between_starts
    from moves as m
    join path_steps as o on o.step = m.to_step
    group by m.project_id, m.from_step, m.from_order, m.to_step, o.step_order
)

select * from final
order by project_id, from_step, to_step
