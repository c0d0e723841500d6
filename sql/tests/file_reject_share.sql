-- No file of this run has more of its data rows rejected than its source allows (sources.max_reject_share,
-- default 0.2). Most rows of a file rejected usually means the export changed: a new date format, a
-- renamed code list, a shifted column. The rows stay in `rejects` with their reasons; the run still
-- publishes, with a warning naming the file and its share.
-- severity: warn
select
    f.project_id, f.source_id, f.path, f.rows_rejected, f.rows_read - f.rows_skipped as data_rows,
    round(cast(f.rows_rejected as double) / (f.rows_read - f.rows_skipped), 3) as share_rejected,
    s.max_reject_share
from file_loads as f
join sources as s on s.project_id = f.project_id and s.source_id = f.source_id
where f.load_id = (select max(load_id) from file_loads)
    and f.status in ('loaded', 'unchanged')
    and f.rows_read - f.rows_skipped > 0
    and cast(f.rows_rejected as double) / (f.rows_read - f.rows_skipped) > s.max_reject_share
