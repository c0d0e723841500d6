-- relationships: every enrolment's project and sub-project exist in the pipeline files.
select e.project_id, e.subproject_id, count(*) as n
from enrolments as e
left join subprojects as s
    on s.project_id = e.project_id and s.subproject_id = e.subproject_id
where s.subproject_id is null
group by e.project_id, e.subproject_id
