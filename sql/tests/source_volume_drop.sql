-- A source's latest export has at least half the rows of the export before it (source_freshness). A
-- monthly list that suddenly lost more than half its rows is usually a partial or filtered export. The run
-- still publishes, with a warning naming the source.
-- severity: warn
select project_id, source_id, previous_export_date, rows_previous, latest_export_date, rows_latest
from source_freshness
where rows_previous > 0 and rows_latest * 2 < rows_previous
