//! The marts' fast SQL against the obvious definitions, on the bundled sample inputs (five projects,
//! people in several sub-projects, re-entries, both programme periods): `esf_indicators` counted flag by
//! flag from `participant_entry`, `monthly_active` as distinct people per month from `enrolments`,
//! `method_outcomes` and `target_followup` person by person, `pathways` with one window partition per
//! person — each compared with `EXCEPT` both ways through the real CLI.

use std::path::Path;

use crate::common::query_csv;
use crate::export::run_bundled;

const STATUS: &str = "labour_status_at_entry is not null";
const EDUCATION: &str = "education_level is not null";
const OUTCOME: &str = "exit_outcome is not null";

/// (flag, who counts, whose data is there): the regulation's definitions as predicates over
/// `participant_entry`, written here independently of the model's flag table.
const FLAGS: &[(&str, &str, &str)] = &[
    ("total", "true", "true"),
    (
        "unemployed",
        "labour_status_at_entry = 'unemployed'",
        STATUS,
    ),
    (
        "long_term_unemployed",
        "long_term_unemployed",
        "long_term_unemployed is not null",
    ),
    ("inactive", "labour_status_at_entry = 'inactive'", STATUS),
    ("employed", "labour_status_at_entry = 'employed'", STATUS),
    ("below_25", "age_at_start < 25", "true"),
    ("above_54", "age_at_start > 54", "true"),
    ("below_18", "age_at_start < 18", "true"),
    ("18_29", "age_at_start between 18 and 29", "true"),
    ("55_plus", "age_at_start >= 55", "true"),
    ("isced_0_2", "education_level = 'isced_0_2'", EDUCATION),
    ("isced_3_4", "education_level = 'isced_3_4'", EDUCATION),
    ("isced_5_8", "education_level = 'isced_5_8'", EDUCATION),
    ("disability", "disability = 'yes'", "disability is not null"),
    (
        "third_country",
        "third_country_national = 'yes'",
        "third_country_national is not null",
    ),
    (
        "foreign",
        "foreign_born = 'yes'",
        "foreign_born is not null",
    ),
    (
        "inactive_to_job_seeking",
        "labour_status_at_entry = 'inactive' and exited and exit_outcome = 'job_seeking'",
        "labour_status_at_entry is not null and exit_outcome is not null",
    ),
    (
        "job_seeking",
        "exited and exit_outcome = 'job_seeking'",
        OUTCOME,
    ),
    ("studies", "exited and exit_outcome = 'studies'", OUTCOME),
    (
        "qualification",
        "exited and qualification_gained",
        "qualification_gained is not null",
    ),
    ("work", "exited and exit_outcome = 'work'", OUTCOME),
];

/// Each programme's indicator codes and the flag each counts (ESF 2014–2020: Reg. (EU) 1304/2013; ESF+:
/// Reg. (EU) 2021/1057).
const CODES: &[(&str, &[(&str, &str)])] = &[
    (
        "esf_2014_2020",
        &[
            ("TOTAL", "total"),
            ("CO01", "unemployed"),
            ("CO02", "long_term_unemployed"),
            ("CO03", "inactive"),
            ("CO05", "employed"),
            ("CO06", "below_25"),
            ("CO07", "above_54"),
            ("CO09", "isced_0_2"),
            ("CO10", "isced_3_4"),
            ("CO11", "isced_5_8"),
            ("CO15", "foreign"),
            ("CO16", "disability"),
            ("CR01", "inactive_to_job_seeking"),
            ("CR02", "studies"),
            ("CR03", "qualification"),
            ("CR04", "work"),
        ],
    ),
    (
        "esf_plus_2021_2027",
        &[
            ("EECO01", "total"),
            ("EECO02", "unemployed"),
            ("EECO03", "long_term_unemployed"),
            ("EECO04", "inactive"),
            ("EECO05", "employed"),
            ("EECO06", "below_18"),
            ("EECO07", "18_29"),
            ("EECO08", "55_plus"),
            ("EECO09", "isced_0_2"),
            ("EECO10", "isced_3_4"),
            ("EECO11", "isced_5_8"),
            ("EECO12", "disability"),
            ("EECO13", "third_country"),
            ("EECO14", "foreign"),
            ("EECR01", "job_seeking"),
            ("EECR02", "studies"),
            ("EECR03", "qualification"),
            ("EECR04", "work"),
        ],
    ),
];

/// The indicators counted one by one over `people` (a query over participant_entry's columns): every
/// project × indicator of its programme × gender, the value null where no participant of the project has
/// the field.
fn indicators_by_definition(people: &str) -> String {
    let mut counts = Vec::new();
    let mut codes = Vec::new();
    for (programme, list) in CODES {
        for (code, flag) in *list {
            let (_, hit, has) = FLAGS
                .iter()
                .find(|(f, _, _)| f == flag)
                .expect("every code names a flag");
            codes.push(format!("('{programme}', '{code}')"));
            counts.push(format!(
                "select project_id, '{code}' as indicator_code, g.gender, \
                 count(*) filter (where ({hit}) and ({has})) as hits, count(*) filter (where {has}) as with_data \
                 from ({people}) as p cross join (values ('total'), ('woman'), ('man')) as g(gender) \
                 where p.programme = '{programme}' and (g.gender = 'total' or g.gender = p.gender) \
                 group by project_id, g.gender"
            ));
        }
    }
    format!(
        "with counts as ({}), \
         codes (programme, indicator_code) as (values {}), \
         grid as (select p.project_id, c.indicator_code, g.gender from projects as p \
             join codes as c on c.programme = p.programme \
             cross join (values ('total'), ('woman'), ('man')) as g(gender)) \
         select g.project_id, g.indicator_code, g.gender, \
             case when t.with_data > 0 then coalesce(c.hits, 0) end as value, \
             coalesce(t.with_data > 0, false) as available, coalesce(c.with_data, 0) as participants_with_data \
         from grid as g \
         left join counts as c on c.project_id = g.project_id and c.indicator_code = g.indicator_code \
             and c.gender = g.gender \
         left join counts as t on t.project_id = g.project_id and t.indicator_code = g.indicator_code \
             and t.gender = 'total'",
        counts.join(" union all "),
        codes.join(", ")
    )
}

/// Rows in `a` and not in `b`, and the other way round (multisets).
fn differences(root: &Path, a: &str, b: &str) -> (String, String) {
    let count = |x: &str, y: &str| {
        query_csv(
            root,
            &format!("select count(*) from (({x}) except all ({y})) as d"),
        )[1][0]
            .clone()
    };
    (count(a, b), count(b, a))
}

#[test]
fn marts_equal_their_definitions_on_the_sample_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run_bundled(root);

    // esf_indicators, as built.
    let model =
        "select project_id, indicator_code, gender, value, available, participants_with_data \
                 from esf_indicators";
    let expected = indicators_by_definition("select * from participant_entry");
    assert_eq!(
        differences(root, model, &expected),
        ("0".into(), "0".into())
    );
    let shape = query_csv(
        root,
        "select count(*), count(distinct project_id), sum(value), count(*) filter (where not available) \
         from esf_indicators",
    );
    let (rows, projects, sum): (u32, u32, u64) = (
        shape[1][0].parse().unwrap(),
        shape[1][1].parse().unwrap(),
        shape[1][2].parse().unwrap(),
    );
    // 4 projects × 16 CO/CR codes + 1 project × 18 EECO/EECR codes, × 3 genders; real counts.
    assert_eq!((rows, projects), ((4 * 16 + 18) * 3, 5));
    assert!(sum > 1000, "{shape:?}");

    // The same model over projects whose participants are all men: the women's indicators are there, zero
    // (not null) where the project's sources have the field, as for the men and the total.
    let sql_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let esf = std::fs::read_to_string(sql_dir.join("marts/esf_indicators.sql")).unwrap();
    let men = "select * from participant_entry where gender = 'man'";
    assert_eq!(esf.matches("from participant_entry").count(), 1);
    let esf_men = esf.replace(
        "from participant_entry",
        &format!("from ({men}) as participant_entry"),
    );
    let model_men = format!(
        "select project_id, indicator_code, gender, value, available, participants_with_data from ({esf_men}) as m"
    );
    assert_eq!(
        differences(root, &model_men, &indicators_by_definition(men)),
        ("0".into(), "0".into())
    );
    let women = query_csv(
        root,
        &format!(
            "select count(*) filter (where available), \
                 count(*) filter (where available and value = 0 and participants_with_data = 0), \
                 count(*) filter (where not available and value is null), count(*) \
             from ({model_men}) as m where gender = 'woman'"
        ),
    );
    let n: Vec<u32> = women[1].iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!((n[0], n[0] + n[2]), (n[1], n[3]), "{women:?}");
    assert!(n[0] > 50, "{women:?}");

    // monthly_active: people with an enrolment (started by the report date) covering some day of the month,
    // clipped to the project's period and report date; per sub-project and per project, per gender and in
    // total. Only months with someone active are compared (the model also lists the empty ones, as zero).
    let active = "with months as ( \
            select project_id, period_start, period_end, report_date, \
                unnest(generate_series(cast(date_trunc('month', period_start) as date), \
                    least(report_date, period_end), interval '1 month')) as month \
            from projects), \
        covered as ( \
            select m.project_id, e.subproject_id, cast(m.month as date) as month, e.gender, e.participant_id \
            from months as m join enrolments as e on e.project_id = m.project_id \
            where e.start_date <= m.report_date \
                and cast(date_trunc('month', greatest(e.start_date, m.period_start)) as date) <= m.month \
                and cast(date_trunc('month', least(coalesce(e.end_date, m.report_date), m.report_date, \
                    m.period_end)) as date) >= m.month) \
        select project_id, 'subproject' as level, subproject_id, month, gender, \
            count(distinct participant_id) as active from covered group by 1, 2, 3, 4, 5 \
        union all select project_id, 'subproject', subproject_id, month, 'total', count(distinct participant_id) \
            from covered group by 1, 2, 3, 4, 5 \
        union all select project_id, 'project', cast(null as varchar), month, gender, \
            count(distinct participant_id) from covered group by 1, 2, 3, 4, 5 \
        union all select project_id, 'project', cast(null as varchar), month, 'total', \
            count(distinct participant_id) from covered group by 1, 2, 3, 4, 5";
    let model =
        "select project_id, level, subproject_id, month, gender, active from monthly_active \
                 where active > 0";
    assert_eq!(differences(root, model, active), ("0".into(), "0".into()));
    // People in more than one sub-project make the project's count smaller than the sum of its
    // sub-projects': the comparison above covers that merge.
    let merged = query_csv(
        root,
        "select sum(case when level = 'project' then active else -active end) from monthly_active \
         where gender = 'total'",
    );
    assert!(merged[1][0].parse::<i64>().unwrap() < 0, "{merged:?}");

    // Starts and exits: each person's first start and last exit in the scope, in its month of the project.
    let flows = "select project_id, level, subproject_id, cast(date_trunc('month', d) as date) as month, gender, \
            kind, count(*) as n \
        from ( \
            select project_id, level, subproject_id, gender, first_start as d, 'start' as kind from participant_scopes \
            union all select project_id, level, subproject_id, gender, exit_date, 'exit' from participant_scopes \
                where exited \
        ) as s join projects as p using (project_id) \
        where s.d >= cast(date_trunc('month', p.period_start) as date) and s.d <= least(p.report_date, p.period_end) \
        group by 1, 2, 3, 4, 5, 6";
    let model_flows =
        "select project_id, level, subproject_id, month, gender, 'start' as kind, starts as n \
            from monthly_active where starts > 0 and gender <> 'total' \
        union all select project_id, level, subproject_id, month, gender, 'exit', exits \
            from monthly_active where exits > 0 and gender <> 'total'";
    assert_eq!(
        differences(root, model_flows, flows),
        ("0".into(), "0".into())
    );

    // method_outcomes: the people with each activity type, by gender and in total, and their exits.
    let outcomes = "with p as ( \
            select a.project_id, a.activity_type, e.gender, e.exited, e.exit_outcome \
            from participant_activities as a \
            join participant_entry as e on e.project_id = a.project_id and e.participant_id = a.participant_id), \
        q as (select * from p union all select project_id, activity_type, 'total', exited, exit_outcome from p) \
        select project_id, activity_type, gender, count(*) as participants, \
            count(*) filter (where exited) as exited, \
            count(*) filter (where exited and exit_outcome = 'work') as exits_work \
        from q group by 1, 2, 3";
    let model = "select project_id, activity_type, gender, participants, exited, exits_work \
        from method_outcomes where participants > 0";
    assert_eq!(differences(root, model, outcomes), ("0".into(), "0".into()));
    let types = query_csv(
        root,
        "select count(distinct activity_type), sum(participants) from method_outcomes",
    );
    assert!(types[1][0].parse::<u32>().unwrap() > 2, "{types:?}");

    // target_followup: each target's participants and exits are its project's people; a count target's
    // actual value is the number of people, a share of women the women among them.
    let people = "select t.project_id, t.target_id, count(e.participant_id) as participants, \
            count(*) filter (where e.exited) as exited, count(*) filter (where e.gender = 'woman') as women \
        from targets as t left join participant_entry as e on e.project_id = t.project_id \
        group by t.project_id, t.target_id";
    let checked = query_csv(
        root,
        &format!(
            "select count(*), \
                count(*) filter (where f.participants = x.participants and f.exited = x.exited), \
                count(*) filter (where f.metric = 'participants' and f.actual_value = x.participants), \
                count(*) filter (where f.metric = 'share_women' \
                    and abs(f.actual_value - cast(x.women as double) / x.participants) < 1e-12), \
                count(*) filter (where f.metric in ('participants', 'share_women')) \
            from target_followup as f join ({people}) as x \
                on x.project_id = f.project_id and x.target_id = f.target_id"
        ),
    );
    let n: Vec<u32> = checked[1].iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!((n[1], n[2] + n[3]), (n[0], n[4]), "{checked:?}");
    assert!(n[0] >= 5 && n[4] >= 2, "{checked:?}");

    // pathways: each person's steps (activity types on the path, started by the report date) numbered
    // by first start within the person, the next one, the furthest and how many.
    let steps = "with per_step as ( \
            select a.project_id, a.participant_id, a.activity_type as step, s.step_order, \
                min(a.start_date) as first_start \
            from activities as a join path_steps as s on s.step = a.activity_type \
            join projects as p on p.project_id = a.project_id \
            where a.start_date <= p.report_date \
            group by 1, 2, 3, 4) \
        select project_id, participant_id, step, \
            row_number() over (partition by project_id, participant_id order by first_start, step_order) \
                as sequence, \
            lead(step) over (partition by project_id, participant_id order by first_start, step_order) \
                as next_step, \
            step_order = max(step_order) over (partition by project_id, participant_id) as is_furthest, \
            count(*) over (partition by project_id, participant_id) as steps_taken \
        from per_step";
    let model =
        "select project_id, participant_id, step, sequence, next_step, is_furthest, steps_taken \
        from pathways";
    assert_eq!(differences(root, model, steps), ("0".into(), "0".into()));
    let shape = query_csv(
        root,
        "select count(distinct participant_id), max(sequence), count(*) filter (where next_step is not null) \
         from pathways",
    );
    let n: Vec<u32> = shape[1].iter().map(|v| v.parse().unwrap()).collect();
    assert!(n[0] > 10 && n[1] >= 3 && n[2] > 10, "{shape:?}");
}

/// Past the memory limit a model fails in the engine's words — with the operators holding the most, here a
/// hash join's build side, which cannot spill — plus the limit and how to raise it, naming the model's
/// file; with room, the same model is built.
#[test]
fn a_model_over_the_memory_limit_says_the_limit_and_how_to_raise_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sql/marts")).unwrap();
    std::fs::create_dir_all(root.join("input")).unwrap();
    let model = root.join("sql/marts/big_join.sql");
    std::fs::write(
        &model,
        "select count(*) as n from (select value as v from range(8000000)) as a \
         join (select value as v from range(8000000)) as b on a.v = b.v\n",
    )
    .unwrap();
    let models = |limit_mb: &str, out: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_followup"))
            .current_dir(root)
            .env("FOLLOWUP_MEMORY_LIMIT_MB", limit_mb)
            .env_remove("FOLLOWUP_LOG")
            .args([
                "models", "--input", "input", "--output", out, "--sql", "sql",
            ])
            .output()
            .unwrap()
    };
    let out = models("64", "small");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sql/marts/big_join.sql: Resources exhausted")
            && err.contains("HashJoinInput")
            && err.contains("(can spill: false)")
            && err.contains("memory limit is 64 MB (FOLLOWUP_MEMORY_LIMIT_MB"),
        "{err}"
    );
    let out = models("1024", "roomy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"big_join\":1"));
}
