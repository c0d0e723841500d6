-- relationships: every activity belongs to a sub-project of its project; activity types are canonical.
select a.project_id, a.subproject_id, a.activity_type, count(*) as n
from activities as a
left join subprojects as s on s.project_id = a.project_id and s.subproject_id = a.subproject_id
where s.subproject_id is null
    or a.activity_type not in ('mapping', 'language', 'adult_education', 'vocational_training', 'work_training',
        'matching', 'employment', 'labour_market_knowledge', 'civic_orientation', 'health', 'digital_skills',
        'personal_finance', 'guidance', 'social_support', 'other')
group by a.project_id, a.subproject_id, a.activity_type
