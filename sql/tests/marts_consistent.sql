-- Reconciliation between marts: the project rows of regional_overview, the ESF total indicator and the
-- participant base agree on how many individuals each project has.
with overview as (
    select project_id, participants from regional_overview where level = 'project' and gender = 'total'
),

base as (
    select project_id, count(*) as participants from participant_entry group by project_id
),

esf as (
    select project_id, value from esf_indicators
    where indicator_code in ('TOTAL', 'EECO01') and gender = 'total'
)

select o.project_id, o.participants as overview, coalesce(b.participants, 0) as base, e.value as esf_total
from overview as o
left join base as b on b.project_id = o.project_id
left join esf as e on e.project_id = o.project_id
where o.participants <> coalesce(b.participants, 0)
    or (e.value is not null and e.value <> o.participants)
