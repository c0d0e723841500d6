-- Every file reconciles: rows_read = rows_loaded + rows_rejected + rows_skipped.
select load_id, path, rows_read, rows_loaded, rows_rejected, rows_skipped
from file_loads
where rows_read <> rows_loaded + rows_rejected + rows_skipped
