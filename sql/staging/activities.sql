-- activities: one row per (project, sub-project, participant, activity type, provider, start date);
-- the latest export wins, as for enrolments (ties: the file whose path sorts last, then the higher row
-- number), found as there: each staged row's version is one integer (its file's rank in `staged_files`,
-- then its row number), the winner a plain max(), joined back on that integer.
with versioned as (
    select r.*, f.file_rank * 4294967296 + coalesce(r.source_row, 0) as version
    from activity_rows as r
    join staged_files as f
        on f.table_name = 'activity_rows' and f.export_date = r.export_date and f.source_file = r.source_file
        and f.source_sheet = coalesce(r.source_sheet, '')
),

winners as (
    select max(version) as version
    from versioned
    group by project_id, subproject_id, participant_id, activity_type, coalesce(provider, ''), start_date
),

final as (
    select r.*
    -- The narrow winners first: DataFusion holds the left side of a join in memory (as in enrolments).
    from winners as w
    join versioned as r on r.version = w.version
)

select * exclude (version) from final
order by project_id, subproject_id, participant_id, start_date, activity_type
