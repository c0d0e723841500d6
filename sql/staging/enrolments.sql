-- enrolments: one row per (project, sub-project, participant, start date).
-- The same enrolment seen in several exports (monthly files, a re-sent or copied file) is one row: the
-- latest export date wins for every other field; ties go to the file whose path sorts last, then the
-- higher row number (docs/semantics.md).
with ranked as (
    select
        r.*,
        row_number() over (
            partition by project_id, subproject_id, participant_id, start_date
            order by export_date desc, source_file desc, source_row desc
        ) as version_rank,
        count(*) over (
            partition by project_id, subproject_id, participant_id, start_date
        ) as versions_seen
    from enrolment_rows as r
),

final as (
    select * exclude (version_rank)
    from ranked
    where version_rank = 1
)

select * from final
order by project_id, subproject_id, participant_id, start_date
