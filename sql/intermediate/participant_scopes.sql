-- participant_scopes: each person merged within a scope (a sub-project, or the whole project), as ESF
-- counts participants: first start; active at the report date if any enrolment is ongoing then;
-- otherwise exited at the latest end date with that enrolment's outcome (ties: later start, then outcome;
-- then, deterministically, subsidised and qualification if any tied enrolment says so).
-- Only enrolments that started on or before the project's report date count.
--
-- Written for speed at millions of people (DataFusion's row_number() over one-row partitions, ordered
-- first_value() and joins back to the enrolments were each several times slower): the last exit is the
-- greatest of one integer per enrolment that orders them as above (end date, start date, outcome), so a
-- plain max() finds it; the sub-project scope is aggregated from the enrolments, the project scope from the
-- sub-project rows (the aggregates compose), and the number of sub-projects is the count of those rows.
with dated as (
    select
        e.project_id, e.subproject_id, e.participant_id, e.gender, e.start_date, e.end_date, p.report_date,
        e.end_date is null or e.end_date > p.report_date as ongoing,
        -- Days since 1900 of the end, then of the start, then the outcome in alphabetical order (nulls
        -- last): a larger rank is a later exit. Outcomes are the four canonical ones (data test
        -- enrolments_accepted_values).
        ((e.end_date - date '1900-01-01') * 1000000 + (e.start_date - date '1900-01-01') * 10
            + case e.exit_outcome
                when 'job_seeking' then 4 when 'other' then 3 when 'studies' then 2 when 'work' then 1
                else 0
            end) as exit_rank,
        case e.subsidised_employment when true then 2 when false then 1 else 0 end as subsidised_code,
        case e.qualification_gained when true then 2 when false then 1 else 0 end as qualification_code
    from enrolments as e
    join projects as p on p.project_id = e.project_id
    where e.start_date <= p.report_date
),

-- The flags of the last exit: among the enrolments tied on the rank, true if any says so, else false if
-- any says so (rank * 3 + code, so max() takes the highest code among the highest ranks).
by_subproject as (
    select
        project_id,
        subproject_id,
        participant_id,
        min(gender) as gender,
        min(start_date) as first_start,
        max(report_date) as report_date,
        count(*) as enrolments,
        bool_or(ongoing) as active,
        max(end_date) as last_end,
        max(exit_rank) as exit_rank,
        max(exit_rank * 3 + subsidised_code) as subsidised_rank,
        max(exit_rank * 3 + qualification_code) as qualification_rank
    from dated
    group by project_id, subproject_id, participant_id
),

by_project as (
    select
        project_id,
        participant_id,
        min(gender) as gender,
        min(first_start) as first_start,
        max(report_date) as report_date,
        sum(enrolments) as enrolments,
        count(*) as subprojects,
        bool_or(active) as active,
        max(last_end) as last_end,
        max(exit_rank) as exit_rank,
        max(subsidised_rank) as subsidised_rank,
        max(qualification_rank) as qualification_rank
    from by_subproject
    group by project_id, participant_id
),

scopes as (
    select
        'subproject' as level, project_id, subproject_id, participant_id, gender, first_start, report_date,
        enrolments, cast(1 as bigint) as subprojects, active, last_end, exit_rank, subsidised_rank,
        qualification_rank
    from by_subproject
    union all
    select
        'project' as level, project_id, cast(null as varchar) as subproject_id, participant_id, gender,
        first_start, report_date, enrolments, subprojects, active, last_end, exit_rank, subsidised_rank,
        qualification_rank
    from by_project
),

final as (
    select
        level,
        project_id,
        subproject_id,
        participant_id,
        gender,
        first_start,
        report_date,
        enrolments,
        subprojects,
        active,
        not active as exited,
        case when not active then last_end end as exit_date,
        case when not active then
            case exit_rank % 10
                when 4 then 'job_seeking' when 3 then 'other' when 2 then 'studies' when 1 then 'work'
            end
        end as exit_outcome,
        case when not active then
            case subsidised_rank % 3 when 2 then true when 1 then false end
        end as subsidised_employment,
        case when not active then
            case qualification_rank % 3 when 2 then true when 1 then false end
        end as qualification_gained
    from scopes
)

-- Not sorted: a sort straight after a large aggregate can exhaust the memory pool (DataFusion 55 counts
-- every slice of the aggregate's output at the size of the whole), and nobody reads a per-person table
-- in file order.
select * from final
