-- enrolments: one row per (project, sub-project, participant, start date).
-- The same enrolment seen in several exports (monthly files, a re-sent or copied file) is one row: the
-- latest export date wins for every other field; ties go to the file whose path sorts last, then the
-- sheet whose name sorts last, then the higher row number (docs/semantics.md).
-- Written for speed at millions of rows: every staged row gets one integer, its version, that orders rows
-- as above (its file's rank from `staged_files`, then its row number), so the winner of each enrolment is
-- a plain max() and is joined back on that integer alone. (DataFusion's row_number() over one-row
-- partitions, and chains of joins on the four key columns, were each several times slower.)
with versioned as (
    select r.*, f.file_rank * 4294967296 + coalesce(r.source_row, 0) as version
    from enrolment_rows as r
    join staged_files as f
        on f.table_name = 'enrolment_rows' and f.export_date = r.export_date and f.source_file = r.source_file
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
    -- The narrow side first: DataFusion builds a join's hash table from its left side (it has no statistics
    -- here to swap them), so the winners are held in memory and the wide rows stream past them; the other
    -- way round held every staged row (150 MB at 500 000 rows).
    from winners as w
    join versioned as r on r.version = w.version
)

select * exclude (version) from final
order by project_id, subproject_id, participant_id, start_date
