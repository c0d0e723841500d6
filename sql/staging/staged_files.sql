-- staged_files: one row per staged file and sheet of each staging table (`enrolment_rows`, `activity_rows`),
-- with its precedence rank: by export date, then file path, then sheet name (a sheet-less file has sheet '').
-- The latest export wins in `enrolments` and `activities` (docs/semantics.md); they take a row's rank from
-- here. A model of its own so that it is written once and its size is known: the staging tables are then
-- joined to it as to a small table, without first being repartitioned by file path.
select
    table_name, export_date, source_file, source_sheet,
    cast(row_number() over (partition by table_name order by export_date, source_file, source_sheet) as bigint)
        as file_rank
from (
    select distinct 'enrolment_rows' as table_name, export_date, source_file, coalesce(source_sheet, '') as source_sheet
    from enrolment_rows
    union all
    select distinct 'activity_rows' as table_name, export_date, source_file, coalesce(source_sheet, '') as source_sheet
    from activity_rows
) as f
order by table_name, file_rank
