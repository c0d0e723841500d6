-- participant_entry: one row per person and project at the report date, with the characteristics of the
-- first enrolment (ESF: output data come from the first entry; a re-entry merges) and the exit of the last
-- (from participant_scopes). The base of the ESF indicators and of the target follow-up.
with first_enrolment as (
    select
        e.*,
        row_number() over (
            partition by e.project_id, e.participant_id
            order by e.start_date, e.subproject_id
        ) as entry_rank
    from enrolments as e
    join projects as p on p.project_id = e.project_id
    where e.start_date <= p.report_date
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
        and f.entry_rank = 1
    join projects as p on p.project_id = s.project_id
    where s.level = 'project'
)

select * from final
order by project_id, participant_id
