-- path_steps: the ordered steps of the path from unemployment to self-sufficiency (Härnösand's model),
-- as activity types. One list, read by the pathway marts.
select step, cast(step_order as bigint) as step_order
from (
    values
        ('mapping', 1),
        ('language', 2),
        ('adult_education', 3),
        ('vocational_training', 4),
        ('work_training', 5),
        ('matching', 6),
        ('employment', 7)
) as t(step, step_order)
order by step_order
