-- enrolments: one row per (project, sub-project, participant, start date).
-- The same enrolment seen in several exports (monthly files, a re-sent or copied file) is one row: the
-- latest export date wins for every other field; ties go to the file whose path sorts last, then the
-- higher row number (docs/semantics.md). Written with aggregates and equality joins rather than
-- row_number() over the key: DataFusion's window operators slow down with the number of partitions, and
-- here nearly every row is its own.
with versions as (
    select
        project_id, subproject_id, participant_id, start_date,
        count(*) as versions_seen,
        max(export_date) as export_date
    from enrolment_rows
    group by project_id, subproject_id, participant_id, start_date
),

winners as (
    select
        r.project_id, r.subproject_id, r.participant_id, r.start_date, v.versions_seen,
        max(r.source_file) as source_file
    from enrolment_rows as r
    join versions as v
        on v.project_id = r.project_id and v.subproject_id = r.subproject_id
        and v.participant_id = r.participant_id and v.start_date = r.start_date
        and v.export_date = r.export_date
    group by r.project_id, r.subproject_id, r.participant_id, r.start_date, v.versions_seen
),

-- Ingest already rejects a repeated key within one file, so this step rarely has more than one row.
winning_rows as (
    select
        r.project_id, r.subproject_id, r.participant_id, r.start_date, w.versions_seen, w.source_file,
        max(r.source_row) as source_row
    from enrolment_rows as r
    join winners as w
        on w.project_id = r.project_id and w.subproject_id = r.subproject_id
        and w.participant_id = r.participant_id and w.start_date = r.start_date
        and w.source_file = r.source_file
    group by r.project_id, r.subproject_id, r.participant_id, r.start_date, w.versions_seen, w.source_file
),

final as (
    select r.*, w.versions_seen
    from enrolment_rows as r
    join winning_rows as w
        on w.project_id = r.project_id and w.subproject_id = r.subproject_id
        and w.participant_id = r.participant_id and w.start_date = r.start_date
        and w.source_file = r.source_file and w.source_row = r.source_row
)

select * from final
order by project_id, subproject_id, participant_id, start_date
