-- Each source's latest export has every column the source maps (source_freshness.columns_missing). A
-- mapped column that is missing, usually renamed in a new export, leaves its field empty on every row of
-- the file: the marts then lose exits, outcomes or background data without any row being rejected. The run
-- still publishes, with a warning naming the source and the columns; map the new header in the pipeline
-- file. (file_loads.columns_missing names them for every file, older exports included.)
-- severity: warn
select project_id, source_id, latest_export_date, columns_missing
from source_freshness
where columns_missing is not null
