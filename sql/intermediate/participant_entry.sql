-- participant_entry: one row per person and project at the report date, with the characteristics of the
-- first enrolment (ESF: output data come from the first entry; a re-entry merges) and the exit of the last
-- (from participant_scopes). The base of the ESF indicators and of the target follow-up.
-- The first enrolment is the one starting on the person's first start (participant_scopes), the lowest
-- sub-project id breaking a tie; found with an aggregate and equality joins rather than row_number() over
-- millions of one-person partitions, which is slow in DataFusion.
with entry as (
    select e.project_id, e.participant_id, e.start_date, min(e.subproject_id) as subproject_id
    from enrolments as e
    join participant_scopes as s
        on s.level = 'project' and s.project_id = e.project_id and s.participant_id = e.participant_id
        and s.first_start = e.start_date
    group by e.project_id, e.participant_id, e.start_date
),

first_enrolment as (
    select e.*
    from enrolments as e
    join entry as x
        on x.project_id = e.project_id and x.participant_id = e.participant_id
        and x.start_date = e.start_date and x.subproject_id = e.subproject_id
),

final as (
    select
        s.project_id,
        s.participant_id,
        s.gender,
        s.first_start,
        s.report_date,
        s.enrolments,
        s.subprojects,
        s.active,
        s.exited,
        s.exit_date,
        s.exit_outcome,
        s.subsidised_employment,
        s.qualification_gained,
        f.subproject_id as entry_subproject_id,
        f.age_at_start,
        f.labour_status_at_entry,
        f.long_term_unemployed,
        f.education_level,
        f.foreign_born,
        f.third_country_national,
        f.disability,
        f.referral_source,
        p.programme
    from participant_scopes as s
    join first_enrolment as f
        on f.project_id = s.project_id
        and f.participant_id = s.participant_id
    join projects as p on p.project_id = s.project_id
    where s.level = 'project'
)

select * from final
order by project_id, participant_id
