//! Bad input never crashes: every file of the corpus in `tests/bad-inputs/` (see its README.md) goes
//! through the real binary in one run beside a good file, and gets exactly its documented outcome — a clear
//! per-file error, or loaded with named rejects — while the good file loads fully and every file reconciles.
//! Also the fuzzing regressions under `fuzz/regressions/`, fed through the same paths as the fuzz targets.

use std::path::{Path, PathBuf};

use crate::common::{followup, pnr, query_csv};

#[path = "../../fuzz/harness.rs"]
mod harness;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
}

/// One corpus file: its name, the columns its source maps, and the documented outcome.
struct Case {
    file: &'static str,
    /// Extra `columns` for the source; None = the common layout.
    columns: Option<&'static str>,
    outcome: Outcome,
}

enum Outcome {
    /// status failed, counts 0, `file_loads.error` contains this text.
    Failed(&'static str),
    /// status loaded with (rows_read, loaded, rejected, skipped), the (source_row, rule, column) rejects
    /// sorted, and a text the warnings must contain (if any).
    Loaded {
        counts: (i64, i64, i64, i64),
        rejects: &'static [(u64, &'static str, &'static str)],
        warning: Option<&'static str>,
    },
}

const COMMON: &str = r#"{ personnummer = "Personnummer", gender = "Kön", start_date = "Startdatum", end_date = "Slutdatum", exit_reason = "Avslutsorsak" }"#;

fn cases() -> Vec<Case> {
    use Outcome::*;
    vec![
        Case {
            file: "truncated.xlsx",
            columns: None,
            outcome: Failed("corrupt or truncated xlsx workbook"),
        },
        Case {
            file: "encrypted.xlsx",
            columns: None,
            outcome: Failed(
                "encrypted (password-protected) workbook: remove the password in Excel and send it again",
            ),
        },
        Case {
            file: "empty.csv",
            columns: None,
            outcome: Failed("the file is empty (0 bytes)"),
        },
        Case {
            file: "header_only.csv",
            columns: None,
            outcome: Loaded {
                counts: (0, 0, 0, 0),
                rejects: &[],
                warning: None,
            },
        },
        Case {
            file: "html_table.xls",
            columns: None,
            outcome: Failed("an HTML page saved with a spreadsheet name"),
        },
        Case {
            file: "mixed_encodings.csv",
            columns: None,
            outcome: Loaded {
                counts: (3, 3, 0, 0),
                rejects: &[],
                warning: Some(
                    "2 field(s) were UTF-8 in a Windows-1252 file and were read as UTF-8 (mixed encodings in one file)",
                ),
            },
        },
        Case {
            file: "no_personnummer_column.csv",
            columns: None,
            outcome: Failed(
                "header row not found: none of the first 3 rows holds the headers \"Personnummer\", \"Startdatum\"; \
                 the closest, row 1, lacks \"Personnummer\"; it holds \"Namn\", \"Kön\", \"Startdatum\", \"Slutdatum\", \"Avslutsorsak\"",
            ),
        },
        Case {
            file: "csv_renamed.xlsx",
            columns: None,
            outcome: Loaded {
                counts: (2, 2, 0, 0),
                rejects: &[],
                warning: Some("named .xlsx but its content is csv; read as csv"),
            },
        },
        Case {
            file: "million_rows.xlsx",
            columns: None,
            outcome: Loaded {
                counts: (1_048_575, 4, 0, 1_048_571),
                rejects: &[],
                warning: None,
            },
        },
        Case {
            file: "long_cell.xlsx",
            columns: None,
            outcome: Loaded {
                counts: (2, 1, 1, 0),
                rejects: &[(3, "unknown_value", "Avslutsorsak")],
                warning: None,
            },
        },
        Case {
            file: "formula_errors.xlsx",
            columns: None,
            outcome: Loaded {
                counts: (5, 2, 3, 0),
                rejects: &[
                    (2, "excel_error", "Startdatum"),
                    (3, "excel_error", "Personnummer"),
                    (5, "excel_error", "Avslutsorsak"),
                ],
                warning: None,
            },
        },
        Case {
            file: "merged_header.xlsx",
            columns: Some(
                r#"{ personnummer = "Personnummer", start_date = "Start", end_date = "Slut", exit_reason = "Avslutsorsak" }"#,
            ),
            outcome: Failed(
                "header row not found: none of the first 4 rows holds the headers \"Personnummer\", \"Start\"; \
                 the closest, row 1, lacks \"Start\"; it holds \"Personnummer\", \"Datum\", \"Avslutsorsak\"",
            ),
        },
        Case {
            file: "merged_title.xlsx",
            columns: None,
            outcome: Loaded {
                counts: (3, 2, 0, 1),
                rejects: &[],
                warning: None,
            },
        },
        Case {
            file: "zip_not_xlsx.xlsx",
            columns: None,
            outcome: Failed("corrupt or truncated xlsx workbook"),
        },
        Case {
            file: "image.xlsx",
            columns: None,
            outcome: Failed("not a spreadsheet or text file: found binary content (named .xlsx)"),
        },
    ]
}

const PROJECT: &str = r#"
[project]
id = "bad_inputs"
name = "Dåliga indata"
owner = "Region Test"
county_code = "22"
programme = "esf_2014_2020"
period_start = 2021-01-01
period_end = 2022-12-31
report_date = 2022-06-30
input_dir = "../inputs"

[[subprojects]]
id = "test"
name = "Testkommun"
municipality_code = "2280"

[values.exit_reason]
"Arbete" = "work"
"Anställning" = "work"
"Studier på komvux" = "studies"
"#;

fn source(file: &str, columns: &str) -> String {
    format!(
        "\n[[sources]]\nid = \"{file}\"\nsubproject = \"test\"\nfiles = [\"{file}\"]\n\
         export_date = {{ from = \"fixed\", date = 2022-06-30 }}\ncolumns = {columns}\n"
    )
}

fn row(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_bad_input_gets_its_documented_outcome_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inputs = root.join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(root.join("pipelines")).unwrap();

    let cases = cases();
    // Every file of the corpus has a case (a new file without a documented outcome fails here).
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".py"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every corpus file needs a documented outcome"
    );

    let mut toml = PROJECT.to_string();
    for c in &cases {
        std::fs::copy(corpus_dir().join(c.file), inputs.join(c.file)).unwrap();
        toml.push_str(&source(c.file, c.columns.unwrap_or(COMMON)));
    }
    // The good file: three participants, all loaded.
    let good = format!(
        "Personnummer;Kön;Startdatum;Slutdatum;Avslutsorsak\n{};K;2021-02-01;2021-08-31;Arbete\n{};M;2021-03-01;;\n{};K;2021-04-01;;\n",
        pnr(1991, 6, 11, 242),
        pnr(1984, 2, 14, 131),
        pnr(1977, 12, 24, 420),
    );
    std::fs::write(inputs.join("good.csv"), good).unwrap();
    toml.push_str(&source("good.csv", COMMON));
    std::fs::write(root.join("pipelines/bad_inputs.toml"), toml).unwrap();

    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let out = followup(root, &["run", "--sql", sql.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("reader crashed"),
        "{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "published, with failed files:\n{stdout}\n{stderr}"
    );

    let loads = query_csv(
        root,
        "select path, status, rows_read, rows_loaded, rows_rejected, rows_skipped, coalesce(error, ''), \
         coalesce(warnings, '') from file_loads order by path",
    );
    let loads = &loads[1..];
    assert_eq!(loads.len(), cases.len() + 1, "{loads:?}");
    let rejects = query_csv(
        root,
        "select source_file, source_row, rule, \"column\" from rejects \
         order by source_file, source_row, rule, \"column\"",
    );
    let rejects = &rejects[1..];

    let load_of = |file: &str| -> &Vec<String> {
        let path = format!("bad_inputs/{file}");
        loads
            .iter()
            .find(|l| l[0] == path)
            .unwrap_or_else(|| panic!("no file_loads row for {path}: {loads:?}"))
    };
    for l in loads {
        let n = |i: usize| l[i].parse::<i64>().unwrap();
        assert_eq!(
            n(2),
            n(3) + n(4) + n(5),
            "{} does not reconcile: {l:?}",
            l[0]
        );
    }
    let mut failures = Vec::new();
    for c in &cases {
        let l = load_of(c.file);
        let path = format!("bad_inputs/{}", c.file);
        let got_rejects: Vec<Vec<String>> = rejects
            .iter()
            .filter(|r| r[0] == path)
            .map(|r| r[1..].to_vec())
            .collect();
        match &c.outcome {
            Outcome::Failed(text) => {
                let ok = l[1] == "failed"
                    && l[2..6] == ["0", "0", "0", "0"]
                    && l[6].starts_with(&format!("{path}: "))
                    && l[6].contains(text)
                    && got_rejects.is_empty();
                if !ok {
                    failures.push(format!(
                        "{}: expected failed with {text:?}, got {l:?}",
                        c.file
                    ));
                }
            }
            Outcome::Loaded {
                counts,
                rejects: want,
                warning,
            } => {
                let (r, ld, rj, sk) = *counts;
                let want_rejects: Vec<Vec<String>> = want
                    .iter()
                    .map(|(row_no, rule, col)| row(&[&row_no.to_string(), rule, col]))
                    .collect();
                let ok = l[1] == "loaded"
                    && l[2..6] == [r, ld, rj, sk].map(|n| n.to_string())
                    && l[6].is_empty()
                    && got_rejects == want_rejects
                    && warning.is_none_or(|w| l[7].contains(w));
                if !ok {
                    failures.push(format!(
                        "{}: expected loaded {counts:?} rejects {want_rejects:?} warning {warning:?}, \
                         got {l:?} rejects {got_rejects:?}",
                        c.file
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // The good file loads fully and the run went on after every failure.
    assert_eq!(
        load_of("good.csv")[1..6],
        row(&["loaded", "3", "3", "0", "0"])[..]
    );
    // Every failed file is named in the summary.
    for c in &cases {
        if matches!(c.outcome, Outcome::Failed(_)) {
            assert!(
                stdout.contains(c.file) || stderr.contains(c.file),
                "{}",
                c.file
            );
        }
    }
    // Loaded rows reach the warehouse: the rows of the good file, the far-away row of the big sheet, ...
    let staged = query_csv(
        root,
        "select source_file, count(*) from enrolment_rows group by source_file order by source_file",
    );
    let staged: Vec<(String, String)> = staged[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    for c in &cases {
        if let Outcome::Loaded { counts, .. } = c.outcome {
            let n = staged
                .iter()
                .find(|(f, _)| *f == format!("bad_inputs/{}", c.file))
                .map_or(0, |(_, n)| n.parse::<i64>().unwrap());
            assert_eq!(n, counts.1, "{} staged rows", c.file);
        }
    }
    let far = query_csv(
        root,
        "select max(source_row) from enrolment_rows where source_file = 'bad_inputs/million_rows.xlsx'",
    );
    assert_eq!(far[1][0], "524288");
    // A 100,000-character value is kept masked and cut, with its length noted, never whole.
    let long = query_csv(
        root,
        "select length(raw_value), raw_value like '%… (99999 characters)', length(message) from rejects \
         where source_file = 'bad_inputs/long_cell.xlsx'",
    );
    let n = |i: usize| long[1][i].parse::<i64>().unwrap();
    assert!(n(0) <= 230 && n(2) <= 500, "{long:?}");
    assert_eq!(long[1][1], "true", "{long:?}");
    // ... and mixed encodings decode to the same canonical exit outcome in both halves.
    let outcomes = query_csv(
        root,
        "select exit_reason_raw, exit_outcome from enrolment_rows \
         where source_file = 'bad_inputs/mixed_encodings.csv' order by source_row",
    );
    assert_eq!(
        outcomes[1..],
        [
            row(&["Anställning", "work"]),
            row(&["Anställning", "work"]),
            row(&["Studier på komvux", "studies"]),
        ]
    );
}

/// Every input the fuzzers ever crashed on (`fuzz/regressions/<target>/`), replayed through the same path as
/// the target; and the whole corpus through the fuzz harness, which asserts that counts reconcile.
#[test]
fn fuzz_regressions_replay_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in ["personnummer", "csv_rows", "excel_rows"] {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = dir.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let data = std::fs::read(&f).unwrap();
            match target {
                "personnummer" => {
                    if let Ok(t) = std::str::from_utf8(&data) {
                        harness::personnummer(t);
                    }
                }
                "csv_rows" => {
                    let _ = harness::file_rows(&data, "csv");
                }
                _ => {
                    let _ = harness::file_rows(&data, "xlsx");
                }
            }
            replayed += 1;
        }
    }
    eprintln!("{replayed} fuzz regression inputs replayed");

    // The corpus through the fuzz harness: the same outcome class as in the real run.
    let loads = [
        ("csv_renamed.xlsx", true),
        ("empty.csv", false),
        ("encrypted.xlsx", false),
        ("formula_errors.xlsx", true),
        ("header_only.csv", true),
        ("html_table.xls", false),
        ("image.xlsx", false),
        ("long_cell.xlsx", true),
        ("merged_title.xlsx", true),
        ("million_rows.xlsx", true),
        ("mixed_encodings.csv", true),
        ("truncated.xlsx", false),
        ("zip_not_xlsx.xlsx", false),
    ];
    for (file, ok) in loads {
        let data = std::fs::read(corpus_dir().join(file)).unwrap();
        let ext = file.rsplit('.').next().unwrap();
        let got = harness::file_rows(&data, ext);
        assert_eq!(got.is_ok(), ok, "{file}: {got:?}");
    }
}

/// `domain::mask` (used for `rejects.raw_value` and messages) must leave no identity number readable: two
/// numbers in one cell joined by a space or hyphen (one run of 20+ digits), and a protected-identity
/// placeholder (`YYYYMMDDTFNN`), included.
#[test]
fn mask_hides_every_identity_number() {
    let reference = chrono::NaiveDate::from_ymd_opt(2022, 6, 30).unwrap();
    let a = pnr(1990, 5, 20, 244);
    let b = pnr(1985, 3, 12, 123);
    for raw in [
        format!("{a} {b}"),
        format!("{a}-{b}"),
        format!("{}{}", a.replace('-', ""), b.replace('-', "")),
        "19900520TF12".to_string(),
    ] {
        let masked = followup::domain::mask(&raw);
        for w in masked.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '+')) {
            assert!(
                followup::domain::parse_personnummer(w, reference).is_err(),
                "mask({raw:?}) = {masked:?} still holds a valid number"
            );
        }
        assert!(
            !masked.contains(&a[9..]) && !masked.contains(&b[9..]),
            "mask({raw:?}) = {masked:?}"
        );
    }
}
