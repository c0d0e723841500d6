-- accepted_values for the entry characteristics.
select project_id, source_file, source_row
from enrolments
where id_kind not in ('personnummer', 'samordningsnummer', 'protected_identity')
    or (referral_source is not null and referral_source not in ('employment_service', 'social_services', 'other'))
    or (education_level is not null and education_level not in ('isced_0_2', 'isced_3_4', 'isced_5_8', 'unknown'))
    or (labour_status_at_entry is not null
        and labour_status_at_entry not in ('unemployed', 'inactive', 'employed', 'unknown'))
    or (foreign_born is not null and foreign_born not in ('yes', 'no', 'refused', 'unknown'))
    or (disability is not null and disability not in ('yes', 'no', 'refused', 'unknown'))
    or (third_country_national is not null and third_country_national not in ('yes', 'no', 'refused', 'unknown'))
    or length(municipality_code) <> 4
