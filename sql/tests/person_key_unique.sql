-- person_key(participant_id) stands for a person where models match people by a 64-bit integer
-- (monthly_active). Two pseudonyms sharing a key would be counted as one person there; the chance is about
-- n²/2⁶⁵ (3 in a million at 10 million people), and this test names the key if it ever happens. The
-- numbers are then off by at most one person per shared key, so the run still publishes, with a warning.
-- severity: warn
select person_key(participant_id) as person_key, count(*) as enrolments
from enrolments
group by person_key(participant_id)
having min(participant_id) <> max(participant_id)
