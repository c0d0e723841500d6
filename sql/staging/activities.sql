-- activities: one row per (project, sub-project, participant, activity type, provider, start date);
-- the latest export wins, as for enrolments.
with ranked as (
    select
        r.*,
        row_number() over (
            partition by project_id, subproject_id, participant_id, activity_type,
                coalesce(provider, ''), start_date
            order by export_date desc, source_file desc, source_row desc
        ) as version_rank
    from activity_rows as r
),

final as (
    select * exclude (version_rank)
    from ranked
    where version_rank = 1
)

select * from final
order by project_id, subproject_id, participant_id, start_date, activity_type
