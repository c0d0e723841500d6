-- relationships: every reject of this run comes from a file of this run that counts it as rejected, and
-- each file's distinct rejected rows equal its rows_rejected (reconciliation between layers).
with this_run as (
    select path, rows_rejected
    from file_loads
    where load_id = (select max(load_id) from file_loads) and status in ('loaded', 'unchanged')
),

rejected_rows as (
    select source_file, count(distinct coalesce(source_sheet, '') || ':' || cast(source_row as varchar)) as n
    from rejects
    group by source_file
)

select coalesce(t.path, r.source_file) as path, t.rows_rejected, r.n as distinct_rejected_rows
from this_run as t
full outer join rejected_rows as r on r.source_file = t.path
where coalesce(t.rows_rejected, -1) <> coalesce(r.n, 0)
