-- activities: one row per (project, sub-project, participant, activity type, provider, start date);
-- the latest export wins, as for enrolments (ties: the file whose path sorts last, then the higher row
-- number), found with aggregates and equality joins as there (no row_number() over one-row partitions).
with keyed as (
    select r.*, coalesce(r.provider, '') as provider_key
    from activity_rows as r
),

versions as (
    select
        project_id, subproject_id, participant_id, activity_type, provider_key, start_date,
        max(export_date) as export_date
    from keyed
    group by project_id, subproject_id, participant_id, activity_type, provider_key, start_date
),

winners as (
    select
        k.project_id, k.subproject_id, k.participant_id, k.activity_type, k.provider_key, k.start_date,
        max(k.source_file) as source_file
    from keyed as k
    join versions as v
        on v.project_id = k.project_id and v.subproject_id = k.subproject_id
        and v.participant_id = k.participant_id and v.activity_type = k.activity_type
        and v.provider_key = k.provider_key and v.start_date = k.start_date
        and v.export_date = k.export_date
    group by k.project_id, k.subproject_id, k.participant_id, k.activity_type, k.provider_key, k.start_date
),

winning_rows as (
    select
        k.project_id, k.subproject_id, k.participant_id, k.activity_type, k.provider_key, k.start_date,
        k.source_file, max(k.source_row) as source_row
    from keyed as k
    join winners as w
        on w.project_id = k.project_id and w.subproject_id = k.subproject_id
        and w.participant_id = k.participant_id and w.activity_type = k.activity_type
        and w.provider_key = k.provider_key and w.start_date = k.start_date
        and w.source_file = k.source_file
    group by k.project_id, k.subproject_id, k.participant_id, k.activity_type, k.provider_key, k.start_date,
        k.source_file
),

final as (
    select k.* exclude (provider_key)
    from keyed as k
    join winning_rows as w
        on w.project_id = k.project_id and w.subproject_id = k.subproject_id
        and w.participant_id = k.participant_id and w.activity_type = k.activity_type
        and w.provider_key = k.provider_key and w.start_date = k.start_date
        and w.source_file = k.source_file and w.source_row = k.source_row
)

select * from final
order by project_id, subproject_id, participant_id, start_date, activity_type
