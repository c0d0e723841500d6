//! The paths the fuzz targets drive, shared with the regression test (`tests/it/bad_inputs.rs` includes this
//! file with `#[path]`), so a crash input is replayed through exactly the code that found it.
//!
//! `file_rows`: bytes → a file → `ingest::open` (format sniffing, CSV or calamine) → `find_header` → every
//! row through `FileContext::normalise` of a small in-code pipeline, the way `run` processes one file.
//! A `ReadError` is a fine outcome (the file is reported as failed); a panic or an abort is a bug.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Once, OnceLock};

use chrono::NaiveDate;
use followup::config::{self, Pipeline};
use followup::domain;
use followup::ingest::{self, RawRow, ReadError, ReadOptions};
use followup::normalise::{self, FileContext, Pseudonymiser, RowOutcome};

const PIPELINE: &str = r#"
[project]
id = "fuzz"
name = "Fuzz"
owner = "Region Test"
county_code = "22"
programme = "esf_2014_2020"
period_start = 2021-01-01
period_end = 2022-12-31
input_dir = "."

[[subprojects]]
id = "test"
name = "Testkommun"
municipality_code = "2280"

[values.exit_reason]
"Arbete" = "work"

[[sources]]
subproject = "test"
files = ["*"]
columns = { personnummer = "Personnummer", gender = "Kön", start_date = "Startdatum", end_date = "Slutdatum", exit_reason = "Avslutsorsak", hours = "Timmar" }
"#;

/// At most this many rows are normalised per input: a 2 KB workbook can declare 1,048,576 rows, and the
/// fuzzer should spend its time on many inputs, not on one.
pub const MAX_ROWS: u64 = 200_000;

fn work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("followup-fuzz-{}", std::process::id()))
}

fn pipeline() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let dir = work_dir();
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("fuzz.toml");
        std::fs::write(&path, PIPELINE).expect("write pipeline");
        config::load_pipeline(&path).expect("the fuzz pipeline is valid")
    })
}

/// libfuzzer-sys turns every panic into an abort from its panic hook, even one `ingest` catches on
/// purpose (a panic inside calamine becomes that file's error, as in production). Restore the default
/// hook; a panic that escapes into the target still aborts (libfuzzer-sys catches it and aborts).
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = std::panic::take_hook();
    });
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    pub loaded: u64,
    pub rejected: u64,
    pub skipped: u64,
}

/// Read `data` as a file named `input.<ext>` and normalise its rows. Never panics on any input (that is
/// what the fuzz targets check); the counts always reconcile.
pub fn file_rows(data: &[u8], ext: &str) -> Result<Counts, ReadError> {
    let dir = work_dir();
    std::fs::create_dir_all(&dir).expect("temp dir");
    let thread = format!("{:?}", std::thread::current().id()).replace(['(', ')'], "");
    let path = dir.join(format!("input-{thread}.{ext}"));
    std::fs::write(&path, data).expect("write input");
    let result = read_path(&path);
    let _ = std::fs::remove_file(&path);
    result
}

pub fn read_path(path: &std::path::Path) -> Result<Counts, ReadError> {
    let pipeline = pipeline();
    let source = &pipeline.file.sources[0];
    let opts = ReadOptions {
        sheet: None,
        encoding: source.encoding,
        delimiter: None,
        whole_sheet: false,
    };
    let mut src = ingest::open(path, &opts)?;
    let wanted = normalise::wanted_headers(source);
    let asked: Vec<(String, bool)> = wanted.iter().map(|(_, h, r)| (h.clone(), *r)).collect();
    let (header, pending) = ingest::find_header(src.as_mut(), None, &asked)?;
    let mapped: Vec<_> = wanted
        .iter()
        .zip(&header.columns)
        .map(|((f, h, _), c)| (*f, h.clone(), *c))
        .collect();
    let export = NaiveDate::from_ymd_opt(2022, 6, 30).expect("valid date");
    let mut ctx = FileContext::new(pipeline, source, &mapped, export, "fuzz".into(), None);
    let pseudo = Pseudonymiser::new(b"followup fuzz key - not secret - at least 32 bytes");
    let before = header.rows_before.len() as u64;
    let mut c = Counts {
        read: before,
        skipped: before,
        ..Counts::default()
    };
    let mut handle = |row: &RawRow, c: &mut Counts| {
        c.read += 1;
        match ctx.normalise(row, &pseudo) {
            RowOutcome::Skipped(_) => c.skipped += 1,
            RowOutcome::Enrolment(_) | RowOutcome::Activity(_) => c.loaded += 1,
            RowOutcome::Rejected(r) => {
                assert!(!r.is_empty(), "a rejected row names at least one rule");
                c.rejected += 1;
            }
        }
    };
    for row in &pending {
        handle(row, &mut c);
    }
    while c.read < MAX_ROWS {
        match src.next_row()? {
            Some(row) => handle(&row, &mut c),
            None => break,
        }
    }
    assert_eq!(c.read, c.loaded + c.rejected + c.skipped);
    Ok(c)
}

/// The personnummer parser on any text: no panic; an accepted number has the 12-character canonical form,
/// which parses back to the same number.
pub fn personnummer(text: &str) {
    let reference = NaiveDate::from_ymd_opt(2022, 6, 30).expect("valid date");
    let _ = domain::mask(text);
    if let Ok(p) = domain::parse_personnummer(text, reference) {
        assert_eq!(p.canonical.chars().count(), 12, "canonical form");
        let again =
            domain::parse_personnummer(&p.canonical, reference).expect("the canonical form parses");
        assert_eq!(again, p, "the canonical form parses to the same number");
    }
}
