-- Every regional_overview row adds up: participants = active + exited, exited = exits by outcome, and the
-- genders sum to the total.
with genders as (
    select project_id, level, subproject_id,
        sum(case when gender = 'total' then participants else 0 end) as total,
        sum(case when gender <> 'total' then participants else 0 end) as by_gender
    from regional_overview
    group by project_id, level, subproject_id
)

select project_id, level, subproject_id, gender, 'row sums' as problem
from regional_overview
where participants <> active + exited
    or exited <> exits_work + exits_studies + exits_job_seeking + exits_other + exits_no_outcome
union all
select project_id, level, subproject_id, 'total', 'genders do not sum to the total'
from genders
where total <> by_gender
