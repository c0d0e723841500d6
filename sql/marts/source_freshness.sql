-- source_freshness: one row per source of every pipeline (a municipality's participant list, an activity
-- log), whether or not any file was found for it: has it sent an export recent enough for the project's
-- report date, and how did its latest export's size compare with the one before?
--
-- status: 'current' (latest loaded export at most max_export_age_days before the report date),
-- 'stale' (older), 'missing' (no file loaded: none matched, or every one failed), 'undated' (loaded, but no
-- export date is known). rows_latest / rows_previous are the rows loaded from the latest export date and
-- from the one before it (a monthly list that lost half its rows is worth a look); files_loaded counts
-- this run's files of the source that were loaded or reused unchanged, files_failed those that could not
-- be read. columns_missing: mapped optional columns the latest export lacks (a renamed column leaves its
-- field empty on every row).
with loads as (
    -- This run's files (file_loads keeps every run's): read again, or unchanged since a previous run and
    -- reused ('unchanged' rows are delivered files too), or failed.
    select project_id, source_id, export_date, rows_loaded, columns_missing,
        case when status in ('loaded', 'unchanged') then 'loaded' else status end as status
    from file_loads
    where load_id = (select max(load_id) from file_loads)
),

per_export as (
    select project_id, source_id, export_date, sum(rows_loaded) as rows_loaded,
        max(columns_missing) as columns_missing,
        dense_rank() over (partition by project_id, source_id order by export_date desc) as recency
    from loads
    where status = 'loaded' and export_date is not null
    group by project_id, source_id, export_date
),

per_source as (
    select
        project_id, source_id,
        sum(case when status = 'loaded' then 1 else 0 end) as files_loaded,
        sum(case when status = 'failed' then 1 else 0 end) as files_failed
    from loads
    group by project_id, source_id
),

latest as (
    select
        project_id, source_id,
        max(case when recency = 1 then export_date end) as latest_export_date,
        max(case when recency = 2 then export_date end) as previous_export_date,
        sum(case when recency = 1 then rows_loaded end) as rows_latest,
        sum(case when recency = 2 then rows_loaded end) as rows_previous,
        max(case when recency = 1 then columns_missing end) as columns_missing
    from per_export
    where recency <= 2
    group by project_id, source_id
)

select
    s.project_id,
    s.source_id,
    s.kind,
    s.subproject_id,
    p.report_date,
    coalesce(c.files_loaded, 0) as files_loaded,
    coalesce(c.files_failed, 0) as files_failed,
    l.latest_export_date,
    cast(p.report_date - l.latest_export_date as bigint) as days_behind,
    s.max_export_age_days,
    case
        when coalesce(c.files_loaded, 0) = 0 then 'missing'
        when l.latest_export_date is null then 'undated'
        when p.report_date - l.latest_export_date > s.max_export_age_days then 'stale'
        else 'current'
    end as status,
    l.previous_export_date,
    l.rows_latest,
    l.rows_previous,
    l.columns_missing
from sources as s
join projects as p on p.project_id = s.project_id
left join per_source as c on c.project_id = s.project_id and c.source_id = s.source_id
left join latest as l on l.project_id = s.project_id and l.source_id = s.source_id
order by s.project_id, s.source_id
