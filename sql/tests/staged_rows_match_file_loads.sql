-- Reconciliation between layers: the rows staged for each file of this run equal its rows_loaded.
with staged as (
    select source_file, count(*) as n from enrolment_rows group by source_file
    union all
    select source_file, count(*) as n from activity_rows group by source_file
),

this_run as (
    select path, rows_loaded
    from file_loads
    where load_id = (select max(load_id) from file_loads)
        and status in ('loaded', 'unchanged')
)

select t.path, t.rows_loaded, coalesce(s.n, 0) as staged
from this_run as t
left join staged as s on s.source_file = t.path
where t.rows_loaded <> coalesce(s.n, 0)
