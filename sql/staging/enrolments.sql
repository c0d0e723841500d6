-- enrolments: one row per (project, sub-project, participant, start date).
-- The same enrolment seen in several exports (monthly files, a re-sent or copied file) is one row: the
-- latest export date wins for every other field; ties go to the file whose path sorts last, then the
-- sheet whose name sorts last, then the higher row number (docs/semantics.md).
-- Written for speed at millions of rows: every staged row gets one integer, its version, that orders rows
-- as above (the rank of its file by export date and path, then its row number), so the winner of each
-- enrolment is a plain max() and is joined back on that integer alone. (DataFusion's row_number() over
-- one-row partitions, and chains of joins on the four key columns, were each several times slower.)
with files as (
    select
        export_date, source_file, source_sheet,
        row_number() over (order by export_date, source_file, source_sheet) as file_rank
    from (select distinct export_date, source_file, coalesce(source_sheet, '') as source_sheet from enrolment_rows) as f
),

versioned as (
    select r.*, f.file_rank * 4294967296 + coalesce(r.source_row, 0) as version
    from enrolment_rows as r
    join files as f
        on f.export_date = r.export_date and f.source_file = r.source_file
        and f.source_sheet = coalesce(r.source_sheet, '')
),

winners as (
    select
        project_id, subproject_id, participant_id, start_date,
        count(*) as versions_seen,
        max(version) as version
    from versioned
    group by project_id, subproject_id, participant_id, start_date
),

final as (
    select r.*, w.versions_seen
    from versioned as r
    join winners as w on w.version = r.version
)

select * exclude (version) from final
order by project_id, subproject_id, participant_id, start_date
