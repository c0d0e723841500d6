//! End to end through the real binary: a small pipeline with three municipalities in three formats and a
//! corrupt file; exact counts in regional_overview, rejects and file_loads, computed by hand below.

use std::path::Path;

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::common::{followup, move_xlsx_row_to_end, pnr, query_csv, rewrite_xlsx_part, short};

pub(crate) struct People {
    pub p1: String,
    pub p2: String,
    pub p3: String,
    pub p4_bad: String,
    pub p5: String,
    pub p6: String,
    pub p7: String,
    pub p8: String,
    pub p9: String,
    pub p10: String,
    pub p11_samordning: String,
}

pub(crate) fn people() -> People {
    let p4 = pnr(1970, 7, 7, 456);
    let bad_check = (p4.as_bytes()[12] - b'0' + 1) % 10;
    People {
        p1: pnr(1990, 5, 20, 244), // woman, in Bollnäs and Gävle
        p2: pnr(1985, 3, 12, 123), // man
        p3: pnr(1979, 11, 2, 468), // woman
        p4_bad: format!("{}{bad_check}", &p4[..12]),
        p5: pnr(1992, 1, 30, 135),  // man
        p6: pnr(1988, 8, 8, 222),   // woman
        p7: pnr(1975, 6, 15, 642),  // woman
        p8: pnr(1999, 9, 9, 864),   // woman
        p9: pnr(1980, 10, 10, 357), // man
        p10: pnr(1995, 4, 4, 246),  // woman
        // Samordningsnummer: 3 March 1983 → day 63, birth number 482 (woman).
        p11_samordning: pnr(1983, 3, 63, 482),
    }
}

pub(crate) const PIPELINE: &str = r#"
[project]
id = "test_gavleborg"
name = "Testprojekt Gävleborg"
owner = "Region Gävleborg"
county_code = "21"
programme = "esf_2014_2020"
period_start = 2021-01-01
period_end = 2022-12-31
report_date = 2021-12-31
input_dir = "../inputs"

[[targets]]
id = "share_women"
name = "Minst 60 % kvinnor"
metric = "share_women"
value = 0.6

[[subprojects]]
id = "bollnas"
name = "Bollnäs"
municipality_code = "2183"

[[subprojects]]
id = "gavle"
name = "Gävle"
municipality_code = "2180"

[[subprojects]]
id = "hudiksvall"
name = "Hudiksvall"
municipality_code = "2184"

[values.exit_reason]
"Arbete" = "work"
"Anställning med stöd" = "work_subsidised"
"Studier" = "studies"
"Arbetssökande" = "job_seeking"

[[sources]]
subproject = "bollnas"
files = ["bollnas/*.xlsx"]
sheet = "Deltagare"
export_date = { from = "filename" }
columns = { personnummer = "Personnummer", gender = "Kön", start_date = "Startdatum", end_date = "Slutdatum", exit_reason = "Avslutsorsak" }

[[sources]]
subproject = "gavle"
files = ["gavle/*.csv"]
decimal_comma = true
export_date = { from = "filename" }
columns = { personnummer = "Personnr", gender = "Kön", start_date = "Inskrivningsdatum", end_date = "Avslutsdatum", exit_reason = "Orsak till avslut", hours = "Timmar" }

[[sources]]
subproject = "hudiksvall"
files = ["hudiksvall/*.csv"]
export_date = { from = "filename" }
columns = { personnummer = "Personnummer", start_date = "Startdatum", end_date = "Slutdatum", exit_reason = "Avslutsorsak" }
"#;

pub(crate) fn write_inputs(root: &Path, p: &People) {
    let inputs = root.join("inputs");
    for d in ["bollnas", "gavle", "hudiksvall"] {
        std::fs::create_dir_all(inputs.join(d)).unwrap();
    }
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    std::fs::write(root.join("pipelines/test.toml"), PIPELINE).unwrap();

    // Bollnäs: xlsx, title rows, header on row 4, date cells, a blank row, a bad number, a Summa row.
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Deltagare").unwrap();
    let df = Format::new().set_num_format("yyyy-mm-dd");
    let date = |y, m, d| ExcelDateTime::from_ymd(y, m, d).unwrap();
    ws.write_string(0, 0, "Deltagarlista – Bollnäs kommun")
        .unwrap();
    ws.write_string(1, 0, "Rapportdatum: 2021-12-31").unwrap();
    let header = [
        "Personnummer",
        "Förnamn",
        "Kön",
        "Startdatum",
        "Slutdatum",
        "Avslutsorsak",
        "Telefon",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    // Row 5: P1 exits to work.
    ws.write_string(4, 0, &p.p1).unwrap();
    ws.write_string(4, 1, "Annika").unwrap();
    ws.write_string(4, 2, "K").unwrap();
    ws.write_datetime_with_format(4, 3, date(2021, 2, 1), &df)
        .unwrap();
    ws.write_datetime_with_format(4, 4, date(2021, 6, 30), &df)
        .unwrap();
    ws.write_string(4, 5, "Arbete").unwrap();
    ws.write_string(4, 6, "070-1234567").unwrap();
    // Row 6: P2 active.
    ws.write_string(5, 0, &p.p2).unwrap();
    ws.write_string(5, 1, "Bertil").unwrap();
    ws.write_string(5, 2, "M").unwrap();
    ws.write_datetime_with_format(5, 3, date(2021, 3, 1), &df)
        .unwrap();
    // Row 7: P3 exits to studies, start date as text, stated gender spelled out.
    ws.write_string(6, 0, short(&p.p3)).unwrap();
    ws.write_string(6, 1, "Cecilia").unwrap();
    ws.write_string(6, 2, "Kvinna").unwrap();
    ws.write_string(6, 3, "2021-04-01").unwrap();
    ws.write_datetime_with_format(6, 4, date(2021, 5, 15), &df)
        .unwrap();
    ws.write_string(6, 5, "Studier").unwrap();
    // Row 8 blank. Row 9: bad check digit. Row 10: Summa.
    ws.write_string(8, 0, &p.p4_bad).unwrap();
    ws.write_string(8, 1, "David").unwrap();
    ws.write_datetime_with_format(8, 3, date(2021, 3, 1), &df)
        .unwrap();
    ws.write_string(9, 0, "Summa").unwrap();
    ws.write_number(9, 2, 4.0).unwrap();
    wb.save(inputs.join("bollnas/bollnas_2021-12-31.xlsx"))
        .unwrap();

    // A truncated copy: a corrupt file in the same folder.
    let full = std::fs::read(inputs.join("bollnas/bollnas_2021-12-31.xlsx")).unwrap();
    std::fs::write(
        inputs.join("bollnas/bollnas_trasig.xlsx"),
        &full[..full.len() / 2],
    )
    .unwrap();

    // Gävle: Windows-1252, semicolons, decimal comma, YYYYMMDD dates, 10-digit numbers.
    let gavle = format!(
        "Personnr;Kön;Inskrivningsdatum;Avslutsdatum;Orsak till avslut;Timmar\r\n\
         {p1};K;2021-03-01;2021-08-31;Anställning med stöd;12,5\r\n\
         {p5};M;20210401;;;3,0\r\n\
         {p6};K;2021-13-45;;;1\r\n\
         {p7};K;2021-05-01;2021-04-01;;2\r\n\
         {p5};M;20210401;;;3,0\r\n\
         {p8};K;2021-06-01;;Flyttade;\r\n",
        p1 = p.p1,
        p5 = short(&p.p5),
        p6 = p.p6,
        p7 = p.p7,
        p8 = p.p8,
    );
    let (bytes, _, bad) = encoding_rs::WINDOWS_1252.encode(&gavle);
    assert!(!bad);
    std::fs::write(inputs.join("gavle/gavle_202112.csv"), &bytes).unwrap();

    // Hudiksvall: UTF-8 with BOM, commas, a quoted multi-line note, a samordningsnummer.
    let hudik = format!(
        "\u{feff}\"Personnummer\",\"Startdatum\",\"Slutdatum\",\"Avslutsorsak\",\"Anteckning\"\n\
         \"{p9}\",\"2021-01-15\",\"2021-03-31\",\"Arbetssökande\",\"Ringde\nflera gånger\"\n\
         \"{p10}\",\"2021-02-01\",\"\",\"\",\"\"\n\
         \"{p11}\",\"2021-02-15\",\"2021-09-30\",\"Arbete\",\"\"\n",
        p9 = p.p9,
        p10 = p.p10.replace('-', ""),
        p11 = p.p11_samordning,
    );
    std::fs::write(inputs.join("hudiksvall/hudiksvall_2021-12-31.csv"), hudik).unwrap();
}

#[test]
fn run_loads_three_formats_and_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = people();
    write_inputs(root, &p);
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let sql = sql.to_str().unwrap();

    let out = followup(root, &["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "validate sees the corrupt file:\n{stdout}"
    );
    assert!(
        stdout.contains("FAIL test_gavleborg/bollnas/bollnas_trasig.xlsx"),
        "{stdout}"
    );
    assert!(!root.join("warehouse").exists(), "validate writes nothing");

    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "published, but one file failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("files: 3 loaded, 0 unchanged, 1 failed · rows: 18 read = 8 loaded + 5 rejected + 5 skipped"),
        "{stdout}"
    );

    // file_loads: every file reconciles; the broken one is named with the reason.
    let loads = query_csv(
        root,
        "select path, status, rows_read, rows_loaded, rows_rejected, rows_skipped, header_row, encoding, format \
         from file_loads order by path",
    );
    let row = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        loads[1..],
        [
            row(&[
                "test_gavleborg/bollnas/bollnas_2021-12-31.xlsx",
                "loaded",
                "9",
                "3",
                "1",
                "5",
                "4",
                "",
                "xlsx"
            ]),
            row(&[
                "test_gavleborg/bollnas/bollnas_trasig.xlsx",
                "failed",
                "0",
                "0",
                "0",
                "0",
                "",
                "",
                ""
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "loaded",
                "6",
                "2",
                "4",
                "0",
                "1",
                "windows-1252",
                "csv"
            ]),
            row(&[
                "test_gavleborg/hudiksvall/hudiksvall_2021-12-31.csv",
                "loaded",
                "3",
                "3",
                "0",
                "0",
                "1",
                "utf-8-bom",
                "csv"
            ]),
        ]
    );
    let err = query_csv(root, "select error from file_loads where status = 'failed'");
    assert!(
        err[1][0].contains("bollnas_trasig.xlsx")
            && err[1][0].contains("corrupt or truncated xlsx"),
        "{err:?}"
    );
    assert!(
        stderr.contains("bollnas_trasig.xlsx"),
        "the log names the broken file"
    );

    // rejects: rule, column and line for every broken row.
    let rejects = query_csv(
        root,
        "select source_file, source_row, rule, \"column\" from rejects order by source_file, source_row, rule",
    );
    assert_eq!(
        rejects[1..],
        [
            row(&[
                "test_gavleborg/bollnas/bollnas_2021-12-31.xlsx",
                "9",
                "invalid_personnummer",
                "Personnummer"
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "4",
                "invalid_date",
                "Inskrivningsdatum"
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "5",
                "end_before_start",
                "Avslutsdatum"
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "6",
                "duplicate_row",
                "Personnr"
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "7",
                "outcome_without_exit",
                "Orsak till avslut"
            ]),
            row(&[
                "test_gavleborg/gavle/gavle_202112.csv",
                "7",
                "unknown_value",
                "Orsak till avslut"
            ]),
        ]
    );
    let masked = query_csv(
        root,
        "select raw_value from rejects where rule = 'invalid_personnummer'",
    );
    assert_eq!(masked[1][0], format!("{}-****", &p.p4_bad[..8]));

    // regional_overview at 2021-12-31, counted by hand:
    //   Bollnäs: P1 (w, work), P2 (m, active), P3 (w, studies)
    //   Gävle: P1 (w, subsidised work), P5 (m, active)
    //   Hudiksvall: P9 (m, job seeking), P10 (w, active), P11 (w, work)
    //   Project: 8 enrolments of 7 people; P1 counted once, last exit 2021-08-31 to work.
    let ov = query_csv(
        root,
        "select level, coalesce(subproject_id, '-'), gender, enrolments, participants, active, exited, \
         exits_work, exits_studies, exits_job_seeking, exits_other, exits_no_outcome, \
         round(coalesce(share_women, -1), 4) \
         from regional_overview",
    );
    let expect: Vec<Vec<String>> = [
        "project,-,total,8,7,3,4,2,1,1,0,0,0.5714",
        "project,-,woman,5,4,1,3,2,1,0,0,0,-1.0",
        "project,-,man,3,3,2,1,0,0,1,0,0,-1.0",
        "subproject,bollnas,total,3,3,1,2,1,1,0,0,0,0.6667",
        "subproject,bollnas,woman,2,2,0,2,1,1,0,0,0,-1.0",
        "subproject,bollnas,man,1,1,1,0,0,0,0,0,0,-1.0",
        "subproject,gavle,total,2,2,1,1,1,0,0,0,0,0.5",
        "subproject,gavle,woman,1,1,0,1,1,0,0,0,0,-1.0",
        "subproject,gavle,man,1,1,1,0,0,0,0,0,0,-1.0",
        "subproject,hudiksvall,total,3,3,1,2,1,0,1,0,0,0.6667",
        "subproject,hudiksvall,woman,2,2,1,1,1,0,0,0,0,-1.0",
        "subproject,hudiksvall,man,1,1,0,1,0,0,1,0,0,-1.0",
    ]
    .iter()
    .map(|l| l.split(',').map(str::to_string).collect())
    .collect();
    assert_eq!(ov[1..], expect[..]);

    // Gender and kinds derived from the numbers; the subsidised flag from the exit reason.
    let kinds = query_csv(
        root,
        "select id_kind, count(*) from enrolments group by id_kind order by id_kind",
    );
    assert_eq!(
        kinds[1..],
        [
            row(&["personnummer", "7"]),
            row(&["samordningsnummer", "1"])
        ]
    );
    let sub = query_csv(
        root,
        "select count(*) from enrolments where subsidised_employment and subproject_id = 'gavle'",
    );
    assert_eq!(sub[1][0], "1");

    // Nothing identifying leaves the process: no number in any form, no name or phone, in any table or log.
    let mut secrets: Vec<String> = Vec::new();
    for n in [
        &p.p1,
        &p.p2,
        &p.p3,
        &p.p5,
        &p.p6,
        &p.p7,
        &p.p8,
        &p.p9,
        &p.p10,
        &p.p11_samordning,
    ] {
        secrets.push(n.replace('-', ""));
        secrets.push(short(n));
    }
    for name in [
        "Annika",
        "Bertil",
        "Cecilia",
        "David",
        "070-1234567",
        "Ringde",
    ] {
        secrets.push(name.to_string());
    }
    let tables = query_csv(
        root,
        "select table_name from information_schema.tables where table_schema = 'public'",
    );
    for t in tables[1..].iter().map(|r| r[0].clone()) {
        let dump = followup(
            root,
            &["query", "--format", "csv", &format!("select * from {t}")],
        );
        let text = String::from_utf8_lossy(&dump.stdout);
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "table {t} leaks an identifier");
        }
        for n in [&p.p1, &p.p4_bad, &p.p6] {
            assert!(
                !text.contains(&n.replace('-', "")),
                "table {t} leaks a number"
            );
        }
    }
    for s in &secrets {
        assert!(
            !stderr.contains(s.as_str()) && !stdout.contains(s.as_str()),
            "the log leaks"
        );
    }

    // The tables are Parquet with zstd, readable by DataFusion through the CLI as Parquet too.
    let out_file = root.join("overview.parquet");
    let out = followup(
        root,
        &[
            "query",
            "--format",
            "parquet",
            "--output",
            out_file.to_str().unwrap(),
            "select * from regional_overview",
        ],
    );
    assert!(out.status.success());
    let bytes = std::fs::read(&out_file).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert!(root.join("warehouse/current/enrolments.parquet").exists());
    assert!(root.join("warehouse/current/rejects").is_dir());
}

#[test]
fn run_refuses_without_a_key_and_rejects_unknown_config_keys() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(root)
        .env_remove("FOLLOWUP_HMAC_KEY")
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("FOLLOWUP_HMAC_KEY") && err.contains("--demo-key"),
        "{err}"
    );
    assert!(!root.join("warehouse").exists());

    // A models folder that is not there stops the run before any file is read, said once.
    let out = followup(root, &["run", "--sql", "no-such-sql"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the SQL models folder no-such-sql is not there") && err.contains("--sql DIR"),
        "{err}"
    );
    assert!(!err.contains("file loaded"), "{err}");
    assert!(!root.join("warehouse").exists());
    // An error that quotes its cause is not followed by the cause again.
    std::fs::write(root.join("a-file"), "").unwrap();
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let args = [
        "run",
        "--sql",
        sql.to_str().unwrap(),
        "--warehouse",
        "a-file/warehouse",
    ];
    let out = followup(root, &args);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a-file/warehouse"), "{err}");
    assert_eq!(err.matches("Not a directory").count(), 1, "{err}");

    let bad = PIPELINE.replace("owner = ", "ownr = \"x\"\nowner = ");
    std::fs::write(root.join("pipelines/test.toml"), bad).unwrap();
    let out = followup(root, &["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pipelines/test.toml:5:1") && err.contains("unknown field `ownr`"),
        "{err}"
    );
}

#[test]
fn json_logs_for_nightly_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let out = followup(
        root,
        &[
            "--log-format",
            "json",
            "run",
            "--sql",
            sql.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (mut files_logged, mut ingest_finished) = (0, None);
    let (mut ingest_mib, mut models_logged, mut last_peak) = (0, 0, 0);
    for (i, line) in stderr.lines().enumerate() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["message"] == "file loaded" {
            files_logged += 1;
            assert!(
                v["rows_loaded"].is_number() && v["file"].is_string(),
                "{line}"
            );
            assert!(ingest_finished.is_none(), "a file after the ingest: {line}");
        }
        if v["message"] == "ingest finished" {
            // The peak memory of reading the files, before any model (Linux: from /proc).
            let mib = v["peak_rss_mib"].as_u64();
            assert!(mib.is_some_and(|m| m > 0 && m < 4096), "{line}");
            ingest_mib = mib.unwrap_or(0);
            ingest_finished = Some(i);
        }
        if v["message"] == "model built" {
            assert!(
                ingest_finished.is_some(),
                "a model before the ingest ended: {line}"
            );
            // Each model's time and the process's peak so far, which never falls and starts from the
            // ingest's: the benchmarks name the slowest models and the one that raised the peak.
            models_logged += 1;
            assert!(v["model"].is_string() && v["rows"].is_u64(), "{line}");
            assert!(v["elapsed_ms"].is_u64(), "{line}");
            let peak = v["peak_rss_mib"].as_u64().unwrap_or(0);
            assert!(peak >= ingest_mib.max(last_peak) && peak < 4096, "{line}");
            last_peak = peak;
        }
    }
    assert_eq!(files_logged, 3);
    let models = std::fs::read_dir(&sql)
        .unwrap()
        .flatten()
        .filter(|d| d.file_name() != "tests")
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .count();
    assert_eq!(models_logged, models, "{stderr}");
    assert!(ingest_finished.is_some(), "{stderr}");
}

#[test]
fn an_xlsx_sheet_listed_out_of_order_is_read_again_whole_with_the_same_counts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    // Bollnäs's first participant (row 5) listed after the total row: the streaming reader has staged
    // rows 6-10 when it meets row 5, so the file starts again with its sheet held whole.
    let bollnas = root.join("inputs/bollnas/bollnas_2021-12-31.xlsx");
    move_xlsx_row_to_end(&bollnas, "sheet1", 5);
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let out = followup(root, &["run", "--sql", sql.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("cells listed out of order; reading the sheet whole"),
        "{stderr}"
    );
    // As in run_loads_three_formats_and_counts_exactly, where the rows are in order.
    assert!(
        stdout.contains("files: 3 loaded, 0 unchanged, 1 failed · rows: 18 read = 8 loaded + 5 rejected + 5 skipped"),
        "{stdout}"
    );
    assert_eq!(bollnas_counts(root), ["9", "3", "1", "5", "4"]);
    let staged = query_csv(
        root,
        "select count(*) from enrolments where subproject_id = 'bollnas'",
    );
    assert_eq!(staged[1], ["3"], "no row staged twice");

    // With the header row listed last as well, the disorder shows while the header is being looked for:
    // `validate` (like `run`) reads the sheet whole and finds it on row 4.
    move_xlsx_row_to_end(&bollnas, "sheet1", 4);
    let out = followup(root, &["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok   test_gavleborg/bollnas/bollnas_2021-12-31.xlsx: xlsx")
            && stdout.contains("header on row 4"),
        "{stdout}"
    );
}

/// Bollnäs's workbook saved in the 1904 date system (Excel for Mac before 2011): its date serials count
/// from 1904-01-01, and one end date (E5) is a plain number without a date format, as a General-formatted
/// cell or a formula's result would be. `followup run` loads the days the workbook means, with the counts
/// of the 1900 workbook.
#[test]
fn an_xlsx_in_the_1904_date_system_loads_the_dates_it_means() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let bollnas = root.join("inputs/bollnas/bollnas_2021-12-31.xlsx");
    rewrite_xlsx_part(&bollnas, "xl/workbook.xml", |xml| {
        xml.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
    });
    rewrite_xlsx_part(&bollnas, "xl/worksheets/sheet1.xml", |xml| {
        let mut xml = xml.to_string();
        for cell in ["D5", "E5", "D6", "E7", "D9"] {
            let start = xml
                .find(&format!("<c r=\"{cell}\""))
                .unwrap_or_else(|| panic!("{cell} is in the sheet"));
            let v = start + xml[start..].find("<v>").unwrap() + 3;
            let v_end = v + xml[v..].find("</v>").unwrap();
            let serial: f64 = xml[v..v_end].parse().unwrap();
            xml.replace_range(v..v_end, &(serial - 1462.0).to_string());
            if cell == "E5" {
                let tag_end = start + xml[start..].find('>').unwrap();
                let tag = xml[start..tag_end].to_string();
                let s = tag.find(" s=\"").expect("E5 has a date format");
                let s_end = s + 4 + tag[s + 4..].find('"').unwrap() + 1;
                xml.replace_range(start + s..start + s_end, "");
            }
        }
        xml
    });
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let out = followup(root, &["run", "--sql", sql.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(bollnas_counts(root), ["9", "3", "1", "5", "4"]);
    let dates = query_csv(
        root,
        "select cast(start_date as varchar) as s, coalesce(cast(end_date as varchar), '') as e \
         from enrolments where subproject_id = 'bollnas' order by s",
    );
    assert_eq!(
        dates[1..],
        [
            ["2021-02-01", "2021-06-30"],
            ["2021-03-01", ""],
            ["2021-04-01", "2021-05-15"]
        ]
    );
}

/// Bollnäs's workbook in `file_loads`: rows read, loaded, rejected, skipped, and its header row.
fn bollnas_counts(root: &Path) -> Vec<String> {
    let loads = query_csv(
        root,
        "select rows_read, rows_loaded, rows_rejected, rows_skipped, header_row from file_loads \
         where path = 'test_gavleborg/bollnas/bollnas_2021-12-31.xlsx'",
    );
    loads[1].clone()
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_failing_data_test_is_named_and_blocks_publication() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root, &people());
    let sql = root.join("sql");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"), &sql);
    let sql_arg = sql.to_str().unwrap();

    let first = followup(root, &["run", "--sql", sql_arg]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "one corrupt file in the inputs"
    );
    let published = std::fs::read_link(root.join("warehouse/current")).unwrap();

    // A data test that finds a failing row: the run is not published and names the test.
    std::fs::write(
        sql.join("tests/no_active_participants.sql"),
        "-- every participant must have left (deliberately false here)\n\
         select project_id, participant_id from participant_scopes where active",
    )
    .unwrap();
    let out = followup(root, &["run", "--sql", sql_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("data test FAILED (Error): no_active_participants"),
        "{stdout}"
    );
    assert!(stdout.contains("NOT published"), "{stdout}");
    assert!(stderr.contains("no_active_participants"), "{stderr}");
    assert_eq!(
        std::fs::read_link(root.join("warehouse/current")).unwrap(),
        published,
        "the previous snapshot stays current"
    );

    // The same test at severity warn: published, exit 1, still named.
    std::fs::write(
        sql.join("tests/no_active_participants.sql"),
        "-- severity: warn\nselect project_id, participant_id from participant_scopes where active",
    )
    .unwrap();
    let out = followup(root, &["run", "--sql", sql_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("data test FAILED (Warn): no_active_participants"),
        "{stdout}"
    );
    assert_ne!(
        std::fs::read_link(root.join("warehouse/current")).unwrap(),
        published
    );
}

/// The repository's SQL models, for runs in a temporary folder.
const REPO_SQL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sql");

/// A temporary folder with `inputs/` and `pipelines/`, for the delivery tests' one-file pipelines.
fn delivery_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("inputs")).unwrap();
    std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
    dir
}

/// The `[project]` table of the delivery tests: Region Gävleborg, reported at 2022-06-30, inputs in
/// `../inputs`; sub-projects and sources follow.
fn project_header(id: &str, name: &str) -> String {
    format!(
        r#"
[project]
id = "{id}"
name = "{name}"
owner = "Region Gävleborg"
county_code = "21"
programme = "esf_plus_2021_2027"
period_start = 2021-01-01
period_end = 2022-12-31
report_date = 2022-06-30
input_dir = "../inputs"
"#
    )
}

/// `followup validate` in `root`: its exit code and its output, standard out and error together.
fn validate(root: &Path) -> (Option<i32>, String) {
    let out = followup(root, &["validate"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn source_freshness_names_stale_missing_and_shrunk_sources() {
    let dir = delivery_root();
    let root = dir.path();
    let inputs = root.join("inputs");
    let mut pipeline = project_header("freshness", "Färskhet");
    for (id, code, extra) in [
        ("gavle", "2180", ""),
        ("sandviken", "2181", "max_export_age_days = 20\n"),
        ("soderhamn", "2182", ""),
    ] {
        pipeline.push_str(&format!(
            "\n[[subprojects]]\nid = \"{id}\"\nname = \"{id}\"\nmunicipality_code = \"{code}\"\n"
        ));
        pipeline.push_str(&format!(
            "\n[[sources]]\nid = \"{id}\"\nsubproject = \"{id}\"\nfiles = [\"{id}_*.csv\"]\n\
             export_date = {{ from = \"filename\" }}\n{extra}\
             columns = {{ personnummer = \"Personnummer\", start_date = \"Startdatum\", \
             end_date = \"Slutdatum\" }}\n"
        ));
    }
    std::fs::write(root.join("pipelines/freshness.toml"), pipeline).unwrap();
    let sql = REPO_SQL;
    let with_header = |header: &str, serials: std::ops::Range<u32>| {
        let mut text = format!("{header}\n");
        for s in serials {
            text.push_str(&format!("{};2022-01-10;\n", pnr(1980, 1, 15, s)));
        }
        text
    };
    let list = |serials| with_header("Personnummer;Startdatum;Slutdatum", serials);
    // Gävle: two monthly lists, the latest with a third of the rows of the one before.
    std::fs::write(inputs.join("gavle_2022-05-31.csv"), list(100..106)).unwrap();
    std::fs::write(inputs.join("gavle_2022-06-30.csv"), list(100..102)).unwrap();
    // Sandviken: its latest list is 30 days old at the report date, and it may be 20; and its end-date
    // column was renamed, so it would load with every end date empty.
    std::fs::write(
        inputs.join("sandviken_2022-05-31.csv"),
        with_header("Personnummer;Startdatum;Avslutad", 200..204),
    )
    .unwrap();
    // Söderhamn: nothing has arrived.

    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "published with warnings\n{stdout}"
    );
    assert!(
        stdout.contains("data test FAILED (Warn): sources_current"),
        "{stdout}"
    );
    assert!(
        stdout.contains("data test FAILED (Warn): source_volume_drop"),
        "{stdout}"
    );
    assert!(
        stdout.contains("data test FAILED (Warn): mapped_columns_present"),
        "{stdout}"
    );
    // The summary names the failing rows themselves, not only the tests.
    for row in [
        "source_id=sandviken status=stale latest_export_date=2022-05-31 days_behind=30 max_export_age_days=20",
        "source_id=soderhamn status=missing latest_export_date=null",
        "source_id=gavle previous_export_date=2022-05-31 rows_previous=6 latest_export_date=2022-06-30 rows_latest=2",
        "source_id=sandviken latest_export_date=2022-05-31 columns_missing=Slutdatum",
    ] {
        assert!(stdout.contains(row), "{row}\n{stdout}");
    }
    assert_eq!(
        query_csv(
            root,
            "select source_id, status, files_loaded, latest_export_date, days_behind, \
             max_export_age_days, previous_export_date, rows_latest, rows_previous, \
             columns_missing from source_freshness order by source_id"
        ),
        vec![
            vec![
                "source_id",
                "status",
                "files_loaded",
                "latest_export_date",
                "days_behind",
                "max_export_age_days",
                "previous_export_date",
                "rows_latest",
                "rows_previous",
                "columns_missing"
            ],
            vec![
                "gavle",
                "current",
                "2",
                "2022-06-30",
                "0",
                "45",
                "2022-05-31",
                "2",
                "6",
                ""
            ],
            vec![
                "sandviken",
                "stale",
                "1",
                "2022-05-31",
                "30",
                "20",
                "",
                "4",
                "",
                "Slutdatum"
            ],
            vec!["soderhamn", "missing", "0", "", "", "45", "", "", "", ""],
        ]
    );

    // Söderhamn's list arrives and Gävle's next one is whole again: nothing to warn about.
    std::fs::write(inputs.join("soderhamn_2022-06-30.csv"), list(300..303)).unwrap();
    std::fs::write(inputs.join("gavle_2022-06-30.csv"), list(100..107)).unwrap();
    std::fs::write(inputs.join("sandviken_2022-06-30.csv"), list(200..205)).unwrap();
    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let now = vec![
        vec!["source_id", "status", "files_loaded", "files_failed"],
        vec!["gavle", "current", "2", "0"],
        vec!["sandviken", "current", "2", "0"],
        vec!["soderhamn", "current", "1", "0"],
    ];
    let sql_now =
        "select source_id, status, files_loaded, files_failed from source_freshness order by source_id";
    assert_eq!(query_csv(root, sql_now), now);
    // Run again with nothing new: the files are reused unchanged and count once, as deliveries.
    let out = followup(root, &["run", "--sql", sql]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(query_csv(root, sql_now), now);
}

#[test]
fn a_file_with_most_rows_rejected_is_named_and_the_share_is_set_per_source() {
    let dir = delivery_root();
    let root = dir.path();
    let pipeline = |extra: &str| {
        format!(
            r#"{}
[[subprojects]]
id = "gavle"
name = "Gävle"
municipality_code = "2180"

[[sources]]
id = "gavle"
subproject = "gavle"
files = ["gavle.csv"]
export_date = {{ from = "fixed", date = 2022-06-30 }}
{extra}
columns = {{ personnummer = "Personnummer", start_date = "Startdatum" }}
"#,
            project_header("reject_share", "Andel avvisade")
        )
    };
    let path = root.join("pipelines/p.toml");
    std::fs::write(&path, pipeline("")).unwrap();
    // Five data rows and a total row: three dates in a format the source does not accept.
    let mut csv = String::from("Personnummer;Startdatum\n");
    for (i, date) in [
        "2022-01-10",
        "2022-02-01",
        "10/03/2022",
        "11/03/2022",
        "12/03/2022",
    ]
    .iter()
    .enumerate()
    {
        csv.push_str(&format!("{};{date}\n", pnr(1985, 4, 2, 300 + i as u32)));
    }
    csv.push_str("Summa;5\n");
    std::fs::write(root.join("inputs/gavle.csv"), csv).unwrap();
    let sql = REPO_SQL;

    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("data test FAILED (Warn): file_reject_share"),
        "{stdout}"
    );
    // 3 of 5 data rows (the total row is skipped, not a data row).
    assert_eq!(
        query_csv(
            root,
            "select rows_read, rows_loaded, rows_rejected, rows_skipped from file_loads"
        )[1],
        ["6", "2", "3", "1"]
    );

    // The source allows 70 %: no warning.
    std::fs::write(&path, pipeline("max_reject_share = 0.7")).unwrap();
    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("file_reject_share"), "{stdout}");

    // A share that is not a fraction is a configuration error naming the source.
    std::fs::write(&path, pipeline("max_reject_share = 1.5")).unwrap();
    let (code, text) = validate(root);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("max_reject_share 1.5"), "{text}");

    // Two sources under one id would be one row in source_freshness: refused, naming the second.
    let twice = format!(
        "{}\n[[sources]]\nid = \"gavle\"\nsubproject = \"gavle\"\nfiles = [\"gavle_extra.csv\"]\n\
         columns = {{ personnummer = \"Personnummer\", start_date = \"Startdatum\" }}\n",
        pipeline("")
    );
    std::fs::write(&path, twice).unwrap();
    let (code, text) = validate(root);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("sources[1]: id `gavle` is used by an earlier source too"),
        "{text}"
    );
}

#[test]
fn a_source_that_overwrites_one_file_is_compared_with_its_previous_export() {
    let dir = delivery_root();
    let root = dir.path();
    std::fs::write(
        root.join("pipelines/p.toml"),
        project_header("overwritten", "Samma filnamn")
            + r#"
[[subprojects]]
id = "hofors"
name = "Hofors"
municipality_code = "2104"

[[sources]]
id = "hofors"
subproject = "hofors"
files = ["hofors_deltagare.csv"]
export_date = { from = "mtime" }
columns = { personnummer = "Personnummer", start_date = "Startdatum" }
"#,
    )
    .unwrap();
    let file = root.join("inputs/hofors_deltagare.csv");
    // The municipality sends the same file name every month; its modification time is the export date.
    let deliver = |rows: std::ops::Range<u32>, date: chrono::NaiveDate| {
        let mut text = String::from("Personnummer;Startdatum\n");
        for s in rows {
            text.push_str(&format!("{};2022-01-10\n", pnr(1979, 6, 1, s)));
        }
        std::fs::write(&file, text).unwrap();
        let noon = date.and_hms_opt(12, 0, 0).unwrap().and_utc();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(std::time::SystemTime::from(noon))
            .unwrap();
    };
    let sql = REPO_SQL;
    let freshness = "select latest_export_date, rows_latest, previous_export_date, rows_previous \
                     from source_freshness";

    deliver(
        400..410,
        chrono::NaiveDate::from_ymd_opt(2022, 5, 31).unwrap(),
    );
    let out = followup(root, &["run", "--sql", sql]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(query_csv(root, freshness)[1], ["2022-05-31", "10", "", ""]);

    // June's file, over May's, with three rows: compared with May's ten, from the previous run.
    deliver(
        400..403,
        chrono::NaiveDate::from_ymd_opt(2022, 6, 30).unwrap(),
    );
    let out = followup(root, &["run", "--sql", sql]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("data test FAILED (Warn): source_volume_drop"),
        "{stdout}"
    );
    assert_eq!(
        query_csv(root, freshness)[1],
        ["2022-06-30", "3", "2022-05-31", "10"]
    );
}
