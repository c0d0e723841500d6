-- participant_entry: one row per person and project at the report date, with the characteristics of the
-- first enrolment (ESF: output data come from the first entry; a re-entry merges) and the exit of the last
-- (from participant_scopes). The base of the ESF indicators and of the target follow-up.
-- The first enrolment is the one starting on the person's first start, the lowest sub-project id breaking a
-- tie: the least of one integer per enrolment (days of the start, then the sub-project's rank by id),
-- joined back on it (row_number() over millions of one-person partitions is slow in DataFusion).
with subproject_ranks as (
    select project_id, subproject_id, cast(row_number() over (partition by project_id order by subproject_id) as bigint) as sub_rank
    from subprojects
),

ranked as (
    select e.*, (e.start_date - date '1900-01-01') * 65536 + coalesce(r.sub_rank, 65535) as entry_rank
    from enrolments as e
    left join subproject_ranks as r on r.project_id = e.project_id and r.subproject_id = e.subproject_id
),

entry as (
    select project_id, participant_id, min(entry_rank) as entry_rank
    from ranked
    group by project_id, participant_id
),

first_enrolment as (
    select e.*
    -- The narrow side first: DataFusion holds the left side of a join in memory.
    from entry as x
    join ranked as e
        on e.project_id = x.project_id and e.participant_id = x.participant_id and e.entry_rank = x.entry_rank
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

-- Not sorted, like participant_scopes: one row per person, which nobody reads in pseudonym order, and a
-- sort would hold the whole table in memory.
select * from final
