-- Every source has sent an export recent enough for its project's report date (source_freshness): a
-- municipality that has not sent this month's list makes the marts undercount it. The run still publishes,
-- with a warning naming the sources.
-- severity: warn
select project_id, source_id, status, latest_export_date, days_behind, max_export_age_days
from source_freshness
where status <> 'current'
