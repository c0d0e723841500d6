//! `followup export` through the real binary on the bundled pipelines and sample inputs: the XLSX read
//! back with calamine (sheets, typed cells, empty suppressed cells, values equal to `followup query`),
//! the Swedish-Excel CSV checked byte by byte and parsed back, plain CSV and Parquet, `--unsuppressed`.

use std::path::{Path, PathBuf};

use calamine::{open_workbook, Data, Reader, Xlsx};
use datafusion::arrow::datatypes::DataType;

use crate::common::{followup, query_csv};
use crate::e2e::copy_dir;

pub(crate) const MARTS: [&str; 5] = [
    "regional_overview",
    "monthly_active",
    "esf_indicators",
    "method_outcomes",
    "pathway_steps",
];

pub(crate) fn sql() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sql")
        .to_string_lossy()
        .into_owned()
}

/// The bundled pipelines in `root`, reading the repository's sample inputs, run once.
pub(crate) fn run_bundled(root: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("pipelines"), &root.join("pipelines"));
    std::os::unix::fs::symlink(repo.join("sample-inputs"), root.join("sample-inputs")).unwrap();
    let out = followup(root, &["run", "--sql", &sql()]);
    // 1: published, one bundled file is an HTML page saved as .xls and fails by design.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Arrow types of a published mart, from its Parquet file.
fn types(root: &Path, mart: &str, published: bool) -> Vec<(String, DataType)> {
    let snap = std::fs::canonicalize(root.join("warehouse/current")).unwrap();
    let path = if published {
        snap.join("published").join(format!("{mart}.parquet"))
    } else {
        snap.join(format!("{mart}.parquet"))
    };
    let (schema, _) = followup::export::read_parquet(&path).unwrap();
    schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric()
}

/// One exported cell against the `followup query --format csv` text of the same cell.
fn same(t: &DataType, expected: &str, got: &Data, at: &str) {
    if expected.is_empty() {
        assert!(
            matches!(got, Data::Empty),
            "{at}: expected an empty cell, found {got:?}"
        );
        return;
    }
    match t {
        t if is_number(t) => {
            let want: f64 = expected.parse().unwrap();
            match got {
                Data::Float(v) => assert_eq!(*v, want, "{at}"),
                Data::Int(v) => assert_eq!(*v as f64, want, "{at}"),
                other => panic!("{at}: expected the number {expected}, found {other:?}"),
            }
        }
        DataType::Date32 => match got {
            Data::DateTime(d) => {
                assert!(d.is_datetime(), "{at}");
                let date = d.as_datetime().unwrap().date();
                assert_eq!(date.format("%Y-%m-%d").to_string(), expected, "{at}");
            }
            other => panic!("{at}: expected the date {expected}, found {other:?}"),
        },
        DataType::Boolean => assert_eq!(got, &Data::Bool(expected == "true"), "{at}"),
        _ => assert_eq!(got, &Data::String(expected.to_string()), "{at}"),
    }
}

fn check_xlsx(root: &Path, path: &Path, published: bool) -> usize {
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    assert_eq!(wb.sheet_names(), MARTS.map(String::from).to_vec());
    let mut empty_cells = 0;
    for mart in MARTS {
        let table = if published {
            format!("published.{mart}")
        } else {
            mart.to_string()
        };
        let expected = query_csv(root, &format!("select * from {table}"));
        let types = types(root, mart, published);
        let range = wb.worksheet_range(mart).unwrap();
        assert_eq!(range.start(), Some((0, 0)), "{mart}: starts in A1");
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(
            rows.len(),
            expected.len(),
            "{mart}: header and one row per mart row"
        );
        assert!(expected.len() > 1, "{mart} has rows");
        for (c, (name, _)) in types.iter().enumerate() {
            assert_eq!(rows[0][c], Data::String(name.clone()), "{mart} header");
            assert_eq!(&expected[0][c], name);
        }
        for (r, (want, got)) in expected.iter().zip(&rows).enumerate().skip(1) {
            for (c, (name, t)) in types.iter().enumerate() {
                let cell = got.get(c).unwrap_or(&Data::Empty);
                if matches!(cell, Data::Empty) {
                    empty_cells += 1;
                }
                same(t, &want[c], cell, &format!("{mart} row {r} {name}"));
            }
        }
    }
    empty_cells
}

fn read_csv(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(body)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// A CSV export's cells against the query's: numbers as numbers (after the decimal comma, if any),
/// everything else as text.
fn check_csv_values(root: &Path, path: &Path, mart: &str, delimiter: u8, decimal_comma: bool) {
    let got = read_csv(path, delimiter);
    let want = query_csv(root, &format!("select * from published.{mart}"));
    assert_eq!(got.len(), want.len(), "{}", path.display());
    assert_eq!(got[0], want[0], "{}: header", path.display());
    let types = types(root, mart, true);
    for (r, (g, w)) in got.iter().zip(&want).enumerate().skip(1) {
        for (c, (name, t)) in types.iter().enumerate() {
            let at = format!("{} row {r} {name}", path.display());
            if is_number(t) && !w[c].is_empty() {
                let text = if decimal_comma {
                    assert!(!g[c].contains('.'), "{at}: decimal comma, found {}", g[c]);
                    g[c].replace(',', ".")
                } else {
                    g[c].clone()
                };
                assert_eq!(
                    text.parse::<f64>().unwrap(),
                    w[c].parse::<f64>().unwrap(),
                    "{at}"
                );
            } else if *t == DataType::Boolean && decimal_comma {
                let b = match g[c].as_str() {
                    "SANT" => "true",
                    "FALSKT" => "false",
                    other => other,
                };
                assert_eq!(b, w[c], "{at}");
            } else {
                assert_eq!(g[c], w[c], "{at}");
            }
        }
    }
}

#[test]
fn export_writes_published_marts_as_xlsx_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    run_bundled(root);
    let export = |format: &str, output: &Path, extra: &[&str]| {
        let o = output.to_string_lossy().into_owned();
        let mut args = vec!["export", "--format", format, "--output", o.as_str()];
        args.extend_from_slice(extra);
        let out = followup(root, &args);
        assert!(
            out.status.success(),
            "export {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // XLSX: one sheet per published mart, typed, suppressed cells empty.
    let xlsx = root.join("out/marts.xlsx");
    let said = export("xlsx", &xlsx, &[]);
    assert!(said.contains("disclosure-controlled"), "{said}");
    let empty = check_xlsx(root, &xlsx, true);
    assert!(
        empty > 0,
        "the published marts of the samples have hidden cells, exported as empty cells"
    );

    // --unsuppressed: the same marts without disclosure control, equal to the unprotected tables.
    let raw = root.join("out/marts-unsuppressed.xlsx");
    let said = export("xlsx", &raw, &["--unsuppressed"]);
    assert!(said.contains("UNSUPPRESSED"), "{said}");
    check_xlsx(root, &raw, false);

    // CSV for Swedish Excel: BOM, `;`, decimal comma, CRLF; parses back to the query's values.
    let sv = root.join("out/csv-sv");
    export("csv-sv", &sv, &[]);
    for mart in MARTS {
        let path = sv.join(format!("{mart}.csv"));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{mart}: UTF-8 BOM");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        let header = text.lines().next().unwrap();
        assert!(header.contains(';') && !header.contains(','), "{header}");
        assert!(text.contains("\r\n"), "{mart}: CRLF line ends");
        check_csv_values(root, &path, mart, b';', true);
    }
    let overview = std::fs::read_to_string(sv.join("regional_overview.csv")).unwrap();
    assert!(
        overview.lines().skip(1).any(|l| l
            .split(';')
            .any(|f| f.starts_with("0,") && f[2..].chars().all(|c| c.is_ascii_digit()))),
        "shares are written with a decimal comma"
    );

    // Plain CSV and Parquet.
    let plain = root.join("out/csv");
    export("csv", &plain, &[]);
    let parquet = root.join("out/parquet");
    export("parquet", &parquet, &[]);
    let snap = std::fs::canonicalize(root.join("warehouse/current")).unwrap();
    for mart in MARTS {
        let path = plain.join(format!("{mart}.csv"));
        assert!(!std::fs::read(&path).unwrap().starts_with(b"\xEF\xBB\xBF"));
        check_csv_values(root, &path, mart, b',', false);
        let file: PathBuf = parquet.join(format!("{mart}.parquet"));
        assert_eq!(
            std::fs::read(&file).unwrap(),
            std::fs::read(snap.join("published").join(format!("{mart}.parquet"))).unwrap(),
            "{mart}: the published Parquet file"
        );
    }
    let leftovers: Vec<_> = walkdir::WalkDir::new(root.join("out"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files: {leftovers:?}");
}

#[test]
fn export_without_a_warehouse_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = followup(
        dir.path(),
        &[
            "export",
            "--format",
            "xlsx",
            "--output",
            "x.xlsx",
            "--warehouse",
            "nowhere",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no published warehouse at nowhere") && err.contains("followup run"),
        "{err}"
    );
    assert!(!dir.path().join("x.xlsx").exists());
}
