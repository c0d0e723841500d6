-- source_freshness: one row per source of every pipeline (a municipality's participant list, an activity
-- log), whether or not any file was found for it: has it sent an export recent enough for the project's
-- report date, and how did its latest export's size compare with the one before?
--
-- status: 'current' (latest loaded export at most max_export_age_days before the report date),
-- 'stale' (older), 'missing' (no file loaded: none matched, or every one failed), 'undated' (loaded, but no
-- export date is known). rows_latest / rows_previous are the rows loaded from the latest export date and
-- from the one before it, in this run or an earlier one (a monthly list that lost half its rows is worth a
-- look); files_loaded counts
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

per_source as (
    select
        project_id, source_id,
        sum(case when status = 'loaded' then 1 else 0 end) as files_loaded,
        sum(case when status = 'failed' then 1 else 0 end) as files_failed
    from loads
    group by project_id, source_id
),

-- The latest export date among this run's loaded files, its rows and the columns its files lack.
latest_date as (
    select project_id, source_id, max(export_date) as latest_export_date
    from loads
    where status = 'loaded'
    group by project_id, source_id
),

latest as (
    select
        d.project_id, d.source_id, d.latest_export_date,
        sum(f.rows_loaded) as rows_latest,
        max(f.columns_missing) as columns_missing
    from latest_date as d
    join loads as f
        on f.project_id = d.project_id and f.source_id = d.source_id
        and f.export_date = d.latest_export_date and f.status = 'loaded'
    group by d.project_id, d.source_id, d.latest_export_date
),

-- Every export ever loaded (in this run or an earlier one), with its rows as the last run that loaded it
-- counted them: a municipality that overwrites the same file name every month still has a previous export.
history as (
    select project_id, source_id, export_date, load_id, sum(rows_loaded) as rows_loaded
    from file_loads
    where status in ('loaded', 'unchanged') and export_date is not null
    group by project_id, source_id, export_date, load_id
),

last_seen as (
    select project_id, source_id, export_date, max(load_id) as load_id
    from history
    group by project_id, source_id, export_date
),

previous_date as (
    select h.project_id, h.source_id, max(h.export_date) as previous_export_date
    from last_seen as h
    join latest as l
        on l.project_id = h.project_id and l.source_id = h.source_id
        and h.export_date < l.latest_export_date
    group by h.project_id, h.source_id
),

previous as (
    select d.project_id, d.source_id, d.previous_export_date, h.rows_loaded as rows_previous
    from previous_date as d
    join last_seen as s
        on s.project_id = d.project_id and s.source_id = d.source_id
        and s.export_date = d.previous_export_date
    join history as h
        on h.project_id = s.project_id and h.source_id = s.source_id
        and h.export_date = s.export_date and h.load_id = s.load_id
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
    v.previous_export_date,
    l.rows_latest,
    v.rows_previous,
    l.columns_missing
from sources as s
join projects as p on p.project_id = s.project_id
left join per_source as c on c.project_id = s.project_id and c.source_id = s.source_id
left join latest as l on l.project_id = s.project_id and l.source_id = s.source_id
left join previous as v on v.project_id = s.project_id and v.source_id = s.source_id
order by s.project_id, s.source_id
