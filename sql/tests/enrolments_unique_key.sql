-- unique: one enrolment per (project, sub-project, participant, start date).
select project_id, subproject_id, participant_id, start_date, count(*) as n
from enrolments
group by project_id, subproject_id, participant_id, start_date
having count(*) > 1
