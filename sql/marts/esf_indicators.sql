-- esf_indicators: the common output and immediate result indicators that a participant list with entry
-- and exit data supports, per project and gender (woman, man, total), in long format. ESF+ codes
-- (EECO/EECR, Reg. (EU) 2021/1057) for esf_plus_2021_2027 projects, ESF 2014–2020 codes (CO/CR, Reg. (EU)
-- 1304/2013) for the older ones: the two are never mixed in one series because their age and education
-- bands differ. Characteristics are measured at the first entry; results "upon leaving" use the exit
-- outcome of the last exit. An indicator whose field no source of the project has is reported with
-- value null and available = false, never as zero; participants_with_data says how many participants
-- the value rests on.
with definitions (programme, indicator_code, indicator_name, flag, sort_order) as (
    values
        ('esf_2014_2020', 'TOTAL', 'Total number of participants (the regulation derives it as CO01 + CO03 + CO05)', 'total', 0),
        ('esf_2014_2020', 'CO01', 'Unemployed, including long-term unemployed', 'unemployed', 1),
        ('esf_2014_2020', 'CO02', 'Long-term unemployed', 'long_term_unemployed', 2),
        ('esf_2014_2020', 'CO03', 'Inactive', 'inactive', 3),
        ('esf_2014_2020', 'CO05', 'Employed, including self-employed', 'employed', 5),
        ('esf_2014_2020', 'CO06', 'Below 25 years of age', 'age_below_25', 6),
        ('esf_2014_2020', 'CO07', 'Above 54 years of age', 'age_above_54', 7),
        ('esf_2014_2020', 'CO09', 'With primary (ISCED 1) or lower secondary education (ISCED 2)', 'isced_0_2', 9),
        ('esf_2014_2020', 'CO10', 'With upper secondary (ISCED 3) or post-secondary education (ISCED 4)', 'isced_3_4', 10),
        ('esf_2014_2020', 'CO11', 'With tertiary education (ISCED 5 to 8)', 'isced_5_8', 11),
        ('esf_2014_2020', 'CO15', 'Migrants, participants with a foreign background, minorities', 'foreign_background', 15),
        ('esf_2014_2020', 'CO16', 'Participants with disabilities', 'disability', 16),
        ('esf_2014_2020', 'CR01', 'Inactive participants newly engaged in job searching upon leaving', 'inactive_to_job_seeking', 101),
        ('esf_2014_2020', 'CR02', 'Participants in education/training upon leaving', 'exit_studies', 102),
        ('esf_2014_2020', 'CR03', 'Participants gaining a qualification upon leaving', 'qualification', 103),
        ('esf_2014_2020', 'CR04', 'Participants in employment, including self-employment, upon leaving', 'exit_work', 104),
        ('esf_plus_2021_2027', 'EECO01', 'Total number of participants', 'total', 1),
        ('esf_plus_2021_2027', 'EECO02', 'Unemployed, including long-term unemployed', 'unemployed', 2),
        ('esf_plus_2021_2027', 'EECO03', 'Long-term unemployed', 'long_term_unemployed', 3),
        ('esf_plus_2021_2027', 'EECO04', 'Inactive', 'inactive', 4),
        ('esf_plus_2021_2027', 'EECO05', 'Employed, including self-employed', 'employed', 5),
        ('esf_plus_2021_2027', 'EECO06', 'Children below 18 years of age', 'age_below_18', 6),
        ('esf_plus_2021_2027', 'EECO07', 'Young people aged 18-29', 'age_18_29', 7),
        ('esf_plus_2021_2027', 'EECO08', 'Participants aged 55 and above', 'age_55_plus', 8),
        ('esf_plus_2021_2027', 'EECO09', 'With lower secondary education or less (ISCED 0-2)', 'isced_0_2', 9),
        ('esf_plus_2021_2027', 'EECO10', 'With upper secondary (ISCED 3) or post-secondary education (ISCED 4)', 'isced_3_4', 10),
        ('esf_plus_2021_2027', 'EECO11', 'With tertiary education (ISCED 5 to 8)', 'isced_5_8', 11),
        ('esf_plus_2021_2027', 'EECO12', 'Participants with disabilities', 'disability', 12),
        ('esf_plus_2021_2027', 'EECO13', 'Third-country nationals', 'third_country_national', 13),
        ('esf_plus_2021_2027', 'EECO14', 'Participants with a foreign background', 'foreign_background', 14),
        ('esf_plus_2021_2027', 'EECR01', 'Participants engaged in job searching upon leaving', 'exit_job_seeking', 101),
        ('esf_plus_2021_2027', 'EECR02', 'Participants in education or training upon leaving', 'exit_studies', 102),
        ('esf_plus_2021_2027', 'EECR03', 'Participants gaining a qualification upon leaving', 'qualification', 103),
        ('esf_plus_2021_2027', 'EECR04', 'Participants in employment, including self-employment, upon leaving', 'exit_work', 104)
),

-- People with the same characteristics are counted together first (`n`): the flags below then run over a
-- few thousand groups instead of every participant, however many millions there are.
entry_groups as (
    select project_id, programme, gender, labour_status_at_entry, long_term_unemployed, age_at_start,
        education_level, disability, third_country_national, foreign_born, exited, exit_outcome,
        qualification_gained, count(*) as n
    from participant_entry
    group by project_id, programme, gender, labour_status_at_entry, long_term_unemployed, age_at_start,
        education_level, disability, third_country_national, foreign_born, exited, exit_outcome,
        qualification_gained
),

people as (
    select project_id, programme, gender, * exclude (project_id, programme, gender) from entry_groups
    union all
    select project_id, programme, 'total' as gender, * exclude (project_id, programme, gender) from entry_groups
),

-- One row per group of people and flag: whether they count (hit) and whether the source had the data.
flags as (
    select project_id, programme, gender, 'total' as flag, true as hit, true as has_data, n from people
    union all
    select project_id, programme, gender, 'unemployed', labour_status_at_entry = 'unemployed',
        labour_status_at_entry is not null, n from people
    union all
    select project_id, programme, gender, 'long_term_unemployed', coalesce(long_term_unemployed, false),
        long_term_unemployed is not null, n from people
    union all
    select project_id, programme, gender, 'inactive', labour_status_at_entry = 'inactive',
        labour_status_at_entry is not null, n from people
    union all
    select project_id, programme, gender, 'employed', labour_status_at_entry = 'employed',
        labour_status_at_entry is not null, n from people
    union all
    select project_id, programme, gender, 'age_below_25', age_at_start < 25, true, n from people
    union all
    select project_id, programme, gender, 'age_above_54', age_at_start > 54, true, n from people
    union all
    select project_id, programme, gender, 'age_below_18', age_at_start < 18, true, n from people
    union all
    select project_id, programme, gender, 'age_18_29', age_at_start between 18 and 29, true, n from people
    union all
    select project_id, programme, gender, 'age_55_plus', age_at_start >= 55, true, n from people
    union all
    select project_id, programme, gender, 'isced_0_2', education_level = 'isced_0_2',
        education_level is not null, n from people
    union all
    select project_id, programme, gender, 'isced_3_4', education_level = 'isced_3_4',
        education_level is not null, n from people
    union all
    select project_id, programme, gender, 'isced_5_8', education_level = 'isced_5_8',
        education_level is not null, n from people
    union all
    select project_id, programme, gender, 'disability', disability = 'yes', disability is not null, n from people
    union all
    select project_id, programme, gender, 'third_country_national', third_country_national = 'yes',
        third_country_national is not null, n from people
    union all
    select project_id, programme, gender, 'foreign_background', foreign_born = 'yes',
        foreign_born is not null, n from people
    union all
    select project_id, programme, gender, 'inactive_to_job_seeking',
        labour_status_at_entry = 'inactive' and exited and exit_outcome = 'job_seeking',
        labour_status_at_entry is not null and exit_outcome is not null, n from people
    union all
    select project_id, programme, gender, 'exit_job_seeking', exited and exit_outcome = 'job_seeking',
        exit_outcome is not null, n from people
    union all
    select project_id, programme, gender, 'exit_studies', exited and exit_outcome = 'studies',
        exit_outcome is not null, n from people
    union all
    select project_id, programme, gender, 'exit_work', exited and exit_outcome = 'work',
        exit_outcome is not null, n from people
    union all
    select project_id, programme, gender, 'qualification', exited and coalesce(qualification_gained, false),
        qualification_gained is not null, n from people
),

counted as (
    select
        project_id,
        programme,
        gender,
        flag,
        sum(case when hit and has_data then n else 0 end) as hits,
        sum(case when has_data then n else 0 end) as with_data
    from flags
    group by project_id, programme, gender, flag
),

genders (gender, gender_order) as (
    values ('total', 0), ('woman', 1), ('man', 2)
),

grid as (
    select p.project_id, p.programme, p.report_date, d.indicator_code, d.indicator_name, d.flag,
        d.sort_order, g.gender, g.gender_order
    from projects as p
    join definitions as d on d.programme = p.programme
    cross join genders as g
),

-- Whether the project's sources have the field is decided once per project, from all its participants.
availability as (
    select project_id, flag, with_data > 0 as available
    from counted
    where gender = 'total'
),

final as (
    select
        g.project_id,
        g.programme as programme_period,
        g.indicator_code,
        g.indicator_name,
        g.gender,
        g.report_date,
        case when coalesce(a.available, false) then coalesce(c.hits, 0) end as value,
        coalesce(a.available, false) as available,
        coalesce(c.with_data, 0) as participants_with_data,
        g.sort_order,
        g.gender_order
    from grid as g
    left join counted as c
        on c.project_id = g.project_id and c.gender = g.gender and c.flag = g.flag
    left join availability as a
        on a.project_id = g.project_id and a.flag = g.flag
)

select * exclude (sort_order, gender_order) from final
order by project_id, sort_order, gender_order
