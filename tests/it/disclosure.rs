//! Disclosure control on the published marts, attacked from outside: run the bundled pipelines, read the
//! published marts through the CLI and try to recover every hidden cell by subtraction — from the total,
//! from the other gender, from the other sub-projects of the project and from the other parts of a row's
//! sum. Nothing may be recovered; small counts never show; shares hide with their counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use followup::disclosure::{suppress, Relation};

use crate::common::{followup, query_csv};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A mart read as rows of (column -> text), text "" for null.
fn read(dir: &Path, table: &str) -> Vec<BTreeMap<String, String>> {
    let rows = query_csv(dir, &format!("select * from {table}"));
    let header = rows[0].clone();
    rows[1..]
        .iter()
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

struct Shape<'a> {
    table: &'a str,
    keys: &'a [&'a str],
    counts: &'a [&'a str],
    row_sums: &'a [(&'a str, &'a [&'a str])],
    gender: bool,
    scope: bool,
}

/// Every (total, parts) equation an attacker could write down from the published mart's structure.
fn equations(shape: &Shape, rows: &[BTreeMap<String, String>]) -> Vec<Vec<(usize, String)>> {
    let mut eqs = Vec::new();
    let key = |r: &BTreeMap<String, String>, skip: &[&str]| {
        shape
            .keys
            .iter()
            .filter(|k| !skip.contains(k))
            .map(|k| r[*k].clone())
            .collect::<Vec<_>>()
            .join("|")
    };
    for (i, r) in rows.iter().enumerate() {
        for (t, parts) in shape.row_sums {
            let mut e = vec![(i, t.to_string())];
            e.extend(parts.iter().map(|p| (i, p.to_string())));
            eqs.push(e);
        }
        let _ = r;
    }
    if shape.gender {
        let mut by: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            by.entry(key(r, &["gender"]))
                .or_default()
                .insert(r["gender"].clone(), i);
        }
        for g in by.values() {
            for c in shape.counts {
                eqs.push(vec![
                    (g["total"], c.to_string()),
                    (g["woman"], c.to_string()),
                    (g["man"], c.to_string()),
                ]);
            }
        }
    }
    if shape.scope {
        let mut totals: BTreeMap<String, usize> = BTreeMap::new();
        let mut parts: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            let k = key(r, &["level", "subproject_id"]);
            if r["level"] == "project" {
                totals.insert(k, i);
            } else {
                parts.entry(k).or_default().push(i);
            }
        }
        for (k, t) in totals {
            for c in shape.counts {
                let mut e = vec![(t, c.to_string())];
                e.extend(
                    parts
                        .get(&k)
                        .into_iter()
                        .flatten()
                        .map(|p| (*p, c.to_string())),
                );
                eqs.push(e);
            }
        }
    }
    eqs
}

fn attack(dir: &Path, shape: &Shape, min_cell: i64) {
    let published = read(dir, &format!("published.{}", shape.table));
    let raw = read(dir, shape.table);
    assert_eq!(published.len(), raw.len(), "{}", shape.table);
    let mut hidden_cells = 0;
    for (p, r) in published.iter().zip(&raw) {
        for c in shape.counts {
            let (pv, rv) = (&p[*c], &r[*c]);
            if pv.is_empty() {
                if !rv.is_empty() {
                    hidden_cells += 1;
                    assert_eq!(
                        p["suppressed"], "true",
                        "{}: a hidden cell flags its row",
                        shape.table
                    );
                }
                continue;
            }
            assert_eq!(
                pv, rv,
                "{}.{c}: a visible value is the true value",
                shape.table
            );
            let v: i64 = pv.parse().unwrap();
            assert!(
                v == 0 || v >= min_cell,
                "{}.{c} shows {v} below {min_cell}",
                shape.table
            );
        }
    }
    assert!(
        hidden_cells > 0,
        "{}: the samples have small cells to hide",
        shape.table
    );
    // Subtraction: an equation with exactly one hidden cell would reveal it.
    for eq in equations(shape, &published) {
        let hidden: Vec<&(usize, String)> = eq
            .iter()
            .filter(|(i, c)| published[*i][c].is_empty() && !raw[*i][c].is_empty())
            .collect();
        if hidden.len() == 1 {
            let (i, c) = hidden[0];
            let known: i64 = eq
                .iter()
                .filter(|cell| cell != &hidden[0])
                .map(|(j, d)| published[*j][d].parse::<i64>().unwrap_or(0))
                .sum();
            panic!(
                "{}: row {i} column {c} is recoverable by subtraction (the others give {known})",
                shape.table
            );
        }
    }
}

#[test]
fn published_marts_cannot_be_recovered_by_subtraction() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let r = repo();
    let out = followup(
        root,
        &[
            "run",
            "--pipelines",
            r.join("pipelines").to_str().unwrap(),
            "--sql",
            r.join("sql").to_str().unwrap(),
        ],
    );
    assert!(
        out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let overview = Shape {
        table: "regional_overview",
        keys: &["project_id", "level", "subproject_id", "gender"],
        counts: &[
            "enrolments",
            "participants",
            "active",
            "exited",
            "exits_work",
            "exits_studies",
            "exits_job_seeking",
            "exits_other",
            "exits_no_outcome",
        ],
        row_sums: &[
            ("participants", &["active", "exited"]),
            (
                "exited",
                &[
                    "exits_work",
                    "exits_studies",
                    "exits_job_seeking",
                    "exits_other",
                    "exits_no_outcome",
                ],
            ),
        ],
        gender: true,
        scope: true,
    };
    attack(root, &overview, 5);
    attack(
        root,
        &Shape {
            table: "monthly_active",
            keys: &["project_id", "level", "subproject_id", "month", "gender"],
            counts: &["active", "starts", "exits"],
            row_sums: &[],
            gender: true,
            scope: true,
        },
        5,
    );
    attack(
        root,
        &Shape {
            table: "esf_indicators",
            keys: &["project_id", "indicator_code", "gender"],
            counts: &["value"],
            row_sums: &[],
            gender: true,
            scope: false,
        },
        5,
    );
    attack(
        root,
        &Shape {
            table: "method_outcomes",
            keys: &["project_id", "activity_type", "gender"],
            counts: &[
                "participants",
                "exited",
                "exits_work",
                "exits_studies",
                "exits_work_or_studies",
            ],
            row_sums: &[("exits_work_or_studies", &["exits_work", "exits_studies"])],
            gender: true,
            scope: false,
        },
        5,
    );

    // Shares hide with the counts they come from.
    let published = read(root, "published.regional_overview");
    for row in &published {
        if row["exits_work"].is_empty()
            || row["exits_studies"].is_empty()
            || row["exited"].is_empty()
        {
            assert!(row["share_exits_work_or_studies"].is_empty(), "{row:?}");
        }
    }
    let women_hidden: Vec<String> = published
        .iter()
        .filter(|r| r["gender"] == "woman" && r["participants"].is_empty())
        .map(|r| format!("{}|{}|{}", r["project_id"], r["level"], r["subproject_id"]))
        .collect();
    for row in published.iter().filter(|r| r["gender"] == "total") {
        let k = format!(
            "{}|{}|{}",
            row["project_id"], row["level"], row["subproject_id"]
        );
        if women_hidden.contains(&k) || row["participants"].is_empty() {
            assert!(row["share_women"].is_empty(), "{row:?}");
        }
    }

    // The unsuppressed marts stay whole for authorised analysts.
    let raw = query_csv(
        root,
        "select count(*) from regional_overview where exits_studies between 1 and 4 or exits_other between 1 and 4",
    );
    assert_ne!(raw[1][0], "0");

    // The threshold is configurable: with 10, nothing from 1 to 9 shows.
    let out = followup(
        root,
        &[
            "run",
            "--min-cell",
            "10",
            "--pipelines",
            r.join("pipelines").to_str().unwrap(),
            "--sql",
            r.join("sql").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    attack(root, &overview, 10);
}

#[test]
fn secondary_suppression_closes_every_equation() {
    // Two sub-projects × (woman, man, total) and the project row; Ockelbo's women are 3.
    //   rows: 0 project total, 1 project woman, 2 project man,
    //         3 A total, 4 A woman, 5 A man, 6 B total, 7 B woman, 8 B man
    let values: Vec<Vec<Option<i64>>> = [30, 13, 17, 12, 3, 9, 18, 10, 8]
        .iter()
        .map(|v| vec![Some(*v)])
        .collect();
    let rel = |t: usize, p: &[usize]| Relation {
        total: (t, 0),
        parts: p.iter().map(|r| (*r, 0)).collect(),
    };
    let relations = vec![
        rel(0, &[1, 2]),
        rel(3, &[4, 5]),
        rel(6, &[7, 8]),
        rel(0, &[3, 6]),
        rel(1, &[4, 7]),
        rel(2, &[5, 8]),
    ];
    let hidden = suppress(&values, &relations, 5);
    assert!(hidden.contains(&(4, 0)), "the 3 is hidden");
    for r in &relations {
        let n = std::iter::once(r.total)
            .chain(r.parts.iter().copied())
            .filter(|c| hidden.contains(c))
            .count();
        assert_ne!(n, 1, "{r:?} would reveal its hidden cell");
    }
    // Nothing is hidden without need.
    assert!(hidden.len() <= 4, "{hidden:?}");
}
