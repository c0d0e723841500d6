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
    select project_id, programme, gender, labour_status_at_entry, long_term_unemployed,
        -- The age bands that decide every age flag of both programmes: 0 under 18, 1 18–24, 2 25–29,
        -- 3 30–54, 4 55 and over (null when the age is unknown), so that people group by band, not by year.
        case
            when age_at_start < 18 then 0 when age_at_start < 25 then 1 when age_at_start <= 29 then 2
            when age_at_start <= 54 then 3 when age_at_start >= 55 then 4
        end as age_band,
        education_level, disability, third_country_national, foreign_born, exited, exit_outcome,
        qualification_gained, count(*) as n
    from participant_entry
    group by project_id, programme, gender, labour_status_at_entry, long_term_unemployed, age_band,
        education_level, disability, third_country_national, foreign_born, exited, exit_outcome,
        qualification_gained
),

people as (
    select g.project_id, g.programme, case when t.is_total then 'total' else g.gender end as gender,
        g.* exclude (project_id, programme, gender)
    from entry_groups as g
    cross join (values (false), (true)) as t(is_total)
),

flag_names (flag) as (
    values
        ('total'),
        ('unemployed'),
        ('long_term_unemployed'),
        ('inactive'),
        ('employed'),
        ('age_below_25'),
        ('age_above_54'),
        ('age_below_18'),
        ('age_18_29'),
        ('age_55_plus'),
        ('isced_0_2'),
        ('isced_3_4'),
        ('isced_5_8'),
        ('disability'),
        ('third_country_national'),
        ('foreign_background'),
        ('inactive_to_job_seeking'),
        ('exit_job_seeking'),
        ('exit_studies'),
        ('exit_work'),
        ('qualification')
),

-- One row per group of people and flag: whether they count (hit) and whether the source had the data.
-- A cross join with the flag names, so the groups are read once (a union of one select per flag would
-- read them once per flag).
flags as (
    select p.project_id, p.programme, p.gender, f.flag,
        case f.flag
            when 'total' then true
            when 'unemployed' then labour_status_at_entry = 'unemployed'
            when 'long_term_unemployed' then coalesce(long_term_unemployed, false)
            when 'inactive' then labour_status_at_entry = 'inactive'
            when 'employed' then labour_status_at_entry = 'employed'
            when 'age_below_25' then age_band <= 1
            when 'age_above_54' then age_band = 4
            when 'age_below_18' then age_band = 0
            when 'age_18_29' then age_band in (1, 2)
            when 'age_55_plus' then age_band = 4
            when 'isced_0_2' then education_level = 'isced_0_2'
            when 'isced_3_4' then education_level = 'isced_3_4'
            when 'isced_5_8' then education_level = 'isced_5_8'
            when 'disability' then disability = 'yes'
            when 'third_country_national' then third_country_national = 'yes'
            when 'foreign_background' then foreign_born = 'yes'
            when 'inactive_to_job_seeking' then labour_status_at_entry = 'inactive' and exited and exit_outcome = 'job_seeking'
            when 'exit_job_seeking' then exited and exit_outcome = 'job_seeking'
            when 'exit_studies' then exited and exit_outcome = 'studies'
            when 'exit_work' then exited and exit_outcome = 'work'
            when 'qualification' then exited and coalesce(qualification_gained, false)
        end as hit,
        case f.flag
            when 'total' then true
            when 'unemployed' then labour_status_at_entry is not null
            when 'long_term_unemployed' then long_term_unemployed is not null
            when 'inactive' then labour_status_at_entry is not null
            when 'employed' then labour_status_at_entry is not null
            when 'age_below_25' then true
            when 'age_above_54' then true
            when 'age_below_18' then true
            when 'age_18_29' then true
            when 'age_55_plus' then true
            when 'isced_0_2' then education_level is not null
            when 'isced_3_4' then education_level is not null
            when 'isced_5_8' then education_level is not null
            when 'disability' then disability is not null
            when 'third_country_national' then third_country_national is not null
            when 'foreign_background' then foreign_born is not null
            when 'inactive_to_job_seeking' then labour_status_at_entry is not null and exit_outcome is not null
            when 'exit_job_seeking' then exit_outcome is not null
            when 'exit_studies' then exit_outcome is not null
            when 'exit_work' then exit_outcome is not null
            when 'qualification' then qualification_gained is not null
        end as has_data,
        p.n
    from people as p
    cross join flag_names as f
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

-- Whether the project's sources have the field is decided once per project, from all its participants:
-- the total row's count, spread over the project's rows for the flag by a window over the few hundred
-- rows of the grid (a second reference to `counted` would compute it, and everything it reads, again).
joined as (
    select g.*, c.hits, c.with_data,
        coalesce(max(case when g.gender = 'total' then c.with_data end) over (partition by g.project_id, g.flag) > 0, false)
            as available
    from grid as g
    left join counted as c
        on c.project_id = g.project_id and c.gender = g.gender and c.flag = g.flag
),

final as (
    select
        project_id,
        programme as programme_period,
        indicator_code,
        indicator_name,
        gender,
        report_date,
        case when available then coalesce(hits, 0) end as value,
        available,
        coalesce(with_data, 0) as participants_with_data,
        sort_order,
        gender_order
    from joined
)

select * exclude (sort_order, gender_order) from final
order by project_id, sort_order, gender_order
