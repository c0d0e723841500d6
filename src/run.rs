//! `followup run`: plan the files of every pipeline, ingest each in isolation (a broken file is reported
//! and the run goes on), write the canonical tables into a new snapshot, run the SQL models and data tests,
//! and publish the snapshot by an atomic switch of `current`.

use std::collections::BTreeMap;
use std::io::Read;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use crate::config::{self, ExportDate, Pipeline, Source};
use crate::ingest::{self, ReadError, ReadOptions, RowSource};
use crate::models::{self, ModelError, Severity};
use crate::normalise::{self, Activity, Enrolment, FileContext, Pseudonymiser, RowOutcome};
use crate::warehouse::{self, FileLoad, Layout, ParquetSink, RejectRow, RunRow, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("configuration:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Config(Vec<config::ConfigError>),
    #[error("pseudonymisation key: {0}")]
    Key(String),
    #[error("another run holds the lock {path} (pid {pid}); try again when it has finished")]
    Locked { path: PathBuf, pid: String },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("disclosure control: {0}")]
    Disclosure(#[from] crate::disclosure::DisclosureError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error("--only {0}: no pipeline has that project id")]
    UnknownProject(String),
    #[error("the SQL models folder {} is not there: run from the project folder, or pass --sql DIR", .0.display())]
    NoSqlDir(PathBuf),
}

impl RunError {
    /// Exit code per the CLI contract: 2 for configuration/usage, 3 when nothing was published.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_)
            | RunError::Key(_)
            | RunError::UnknownProject(_)
            | RunError::NoSqlDir(_) => 2,
            _ => 3,
        }
    }
}

/// Where the key came from (recorded in `runs`, never the key itself).
#[derive(Debug, Clone)]
pub struct Key {
    pub bytes: Vec<u8>,
    pub source: String,
}

pub const KEY_ENV: &str = "FOLLOWUP_HMAC_KEY";
const DEMO_KEY: &[u8] =
    b"followup demo key - public, for sample data only - never use in production";

/// The key: `--key-file`, else `FOLLOWUP_HMAC_KEY`, else the public demo key when `--demo-key` is given.
/// A key is 64+ hex digits (decoded) or 32+ bytes of text.
pub fn load_key(key_file: Option<&Path>, demo: bool) -> Result<Key, RunError> {
    let parse = |text: &str, source: String| -> Result<Key, RunError> {
        let t = text.trim();
        let bytes = if t.len() >= 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|e| RunError::Key(format!("{source}: {e}")))?
        } else {
            t.as_bytes().to_vec()
        };
        if bytes.len() < 32 {
            return Err(RunError::Key(format!(
                "{source}: expected at least 32 bytes (256 bits) or 64 hex digits, found {} bytes; \
                 generate one with `openssl rand -hex 32`",
                bytes.len()
            )));
        }
        Ok(Key { bytes, source })
    };
    if let Some(path) = key_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunError::Key(format!("cannot read key file {}: {e}", path.display())))?;
        return parse(&text, "key_file".into());
    }
    if let Ok(v) = std::env::var(KEY_ENV) {
        if !v.trim().is_empty() {
            return parse(&v, "env".into());
        }
    }
    if demo {
        warn!("using the public DEMO pseudonymisation key: participant ids are not protected; never use --demo-key on real data");
        return Ok(Key {
            bytes: DEMO_KEY.to_vec(),
            source: "demo".into(),
        });
    }
    Err(RunError::Key(format!(
        "no key: set {KEY_ENV} (64 hex digits) or pass --key-file FILE; for the bundled sample data only, pass --demo-key"
    )))
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub pipelines_dir: PathBuf,
    pub warehouse_dir: PathBuf,
    pub sql_dir: PathBuf,
    pub only: Option<String>,
    pub report_date: Option<NaiveDate>,
    pub keep_snapshots: usize,
    /// Published marts hide counts from 1 up to this value minus one (and what would reveal them).
    pub min_cell: i64,
}

#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub load_id: String,
    pub published: bool,
    pub files: Vec<FileLoad>,
    pub rejects_by_rule: BTreeMap<String, u64>,
    pub failed_tests: Vec<(String, Severity, u64)>,
    /// The first failing rows of each failed data test, as `column=value` text (the summary shows them).
    pub failed_test_rows: BTreeMap<String, Vec<String>>,
    pub models: Vec<(String, u64)>,
    pub tests_run: usize,
    pub duration_ms: u128,
}

impl RunSummary {
    pub fn files_failed(&self) -> usize {
        self.files.iter().filter(|f| f.status == "failed").count()
    }

    /// 0 all good; 1 published but a file or a warn-level data test failed; 3 nothing published.
    pub fn exit_code(&self) -> u8 {
        if !self.published {
            3
        } else if self.files_failed() > 0 || !self.failed_tests.is_empty() {
            1
        } else {
            0
        }
    }
}

/// How many of a failed data test's rows the summary shows, and at most how many characters of each.
pub const FAILING_ROWS_SHOWN: usize = 5;
const FAILING_ROW_CHARS: usize = 300;

/// The first `limit` rows of a data test's result as `column=value` text. Warehouse tables hold no
/// plaintext identity numbers, but the text is masked all the same: it goes to logs and the terminal.
fn failing_rows(batches: &[datafusion::arrow::array::RecordBatch], limit: usize) -> Vec<String> {
    use datafusion::arrow::array::Array;
    use datafusion::arrow::util::display::array_value_to_string;
    let mut out = Vec::new();
    for b in batches {
        for row in 0..b.num_rows() {
            if out.len() == limit {
                return out;
            }
            let fields: Vec<String> = b
                .schema()
                .fields()
                .iter()
                .zip(b.columns())
                .map(|(f, c)| {
                    let v = if c.is_null(row) {
                        "null".to_string()
                    } else {
                        array_value_to_string(c, row).unwrap_or_default()
                    };
                    format!("{}={v}", f.name())
                })
                .collect();
            let mut text = crate::domain::mask(&fields.join(" "));
            if let Some((cut, _)) = text.char_indices().nth(FAILING_ROW_CHARS) {
                text.truncate(cut);
                text.push('…');
            }
            out.push(text);
        }
    }
    out
}

/// The one-run-at-a-time lock: a file created exclusively, holding the pid. A lock whose pid no longer
/// runs is stale and taken over.
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    pub fn acquire(path: &Path) -> Result<Self, RunError> {
        use std::io::Write;
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    let _ = f.sync_all();
                    return Ok(RunLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(path).unwrap_or_default();
                    let pid = pid.trim().to_string();
                    if pid_alive(&pid) {
                        return Err(RunError::Locked {
                            path: path.to_path_buf(),
                            pid,
                        });
                    }
                    warn!(lock = %path.display(), stale_pid = %pid, "taking over a stale lock left by a run that no longer exists");
                    let _ = std::fs::remove_file(path);
                }
                Err(e) => {
                    return Err(RunError::Warehouse(WarehouseError::Io {
                        path: path.to_path_buf(),
                        source: e,
                    }))
                }
            }
        }
        Err(RunError::Locked {
            path: path.to_path_buf(),
            pid: "unknown".into(),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn pid_alive(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(p) if p == std::process::id() => false,
        Ok(p) => Path::new(&format!("/proc/{p}")).exists(),
        Err(_) => false,
    }
}

/// A date in a file name: `YYYY-MM-DD`, `YYYY_MM_DD`, `YYYYMMDD`, else `YYYY-MM` / `YYYYMM` (month end).
pub fn date_from_filename(name: &str) -> Option<NaiveDate> {
    let digits_only: Vec<(usize, String)> = {
        // Runs of digits joined by a single '-' or '_' between them.
        let b = name.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                let start = i;
                let mut s = String::new();
                while i < b.len()
                    && (b[i].is_ascii_digit()
                        || ((b[i] == b'-' || b[i] == b'_')
                            && i + 1 < b.len()
                            && b[i + 1].is_ascii_digit()
                            && i > start))
                {
                    if b[i].is_ascii_digit() {
                        s.push(b[i] as char);
                    }
                    i += 1;
                }
                out.push((start, s));
            } else {
                i += 1;
            }
        }
        out
    };
    let plausible = |y: i32| (2000..=2099).contains(&y);
    for (_, s) in &digits_only {
        if s.len() == 8 {
            let (y, m, d) = (
                s[..4].parse().ok()?,
                s[4..6].parse().ok()?,
                s[6..].parse().ok()?,
            );
            if plausible(y) {
                if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                    return Some(date);
                }
            }
        }
    }
    for (_, s) in &digits_only {
        if s.len() == 6 {
            let (y, m): (i32, u32) = (s[..4].parse().ok()?, s[4..].parse().ok()?);
            if plausible(y) && (1..=12).contains(&m) {
                let next = if m == 12 {
                    NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)
                }?;
                return next.pred_opt();
            }
        }
    }
    None
}

fn mtime_date(path: &Path) -> Option<NaiveDate> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let dt: chrono::DateTime<Utc> = m.into();
    Some(dt.date_naive())
}

fn export_date(path: &Path, source: &Source, src: &mut dyn RowSource) -> Result<NaiveDate, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match &source.export_date {
        Some(ExportDate::Fixed { date }) => Ok(date.0),
        Some(ExportDate::Mtime) => mtime_date(path).ok_or_else(|| "no modification time".into()),
        Some(ExportDate::Filename) => date_from_filename(&name).ok_or_else(|| {
            format!("export_date: expected a date (YYYY-MM-DD, YYYYMMDD or YYYY-MM) in the file name \"{name}\"")
        }),
        Some(ExportDate::Cell { cell }) => {
            let (r, c) = ingest::parse_a1(cell).ok_or_else(|| format!("bad cell {cell}"))?;
            let value = src
                .cell_at(r, c)
                .ok_or_else(|| format!("export_date: cell {cell} is empty or outside the sheet"))?;
            // Accept a date cell, a serial, or a text that holds a date (e.g. "Rapportdatum: 2022-06-30").
            if let Some(d) = normalise::parse_date(&value, &source.date_formats, src.info().date_1904) {
                return Ok(d);
            }
            let text = value.as_text().map(|t| t.into_owned()).unwrap_or_default();
            text.split(|ch: char| ch.is_whitespace() || ch == ':')
                .find_map(|w| normalise::parse_date_text(w, &source.date_formats))
                .ok_or_else(|| format!("export_date: cell {cell} holds \"{text}\", not a date"))
        }
        None => Ok(date_from_filename(&name)
            .or_else(|| mtime_date(path))
            .unwrap_or_default()),
    }
}

fn sha256_file(path: &Path) -> std::io::Result<(String, i64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0i64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as i64;
        h.update(&buf[..k]);
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Rows on their way to a file's part files.
enum Part {
    Enrolments(Vec<Enrolment>),
    Activities(Vec<Activity>),
    Rejects(Vec<RejectRow>),
}

/// Per-file part files, created on first use and removed if the file fails. Batches are encoded and
/// compressed on a writer thread while the next rows are normalised; the channel holds two batches, so
/// memory stays at a few batches per file.
struct FileParts {
    enrolments: Vec<Enrolment>,
    activities: Vec<Activity>,
    rejects: Vec<RejectRow>,
    tx: Option<SyncSender<Part>>,
    writer: Option<JoinHandle<Result<(), WarehouseError>>>,
}

const BATCH: usize = 8192;

/// The writer thread's side: one Parquet sink per staged table, opened on first use.
struct PartWriter {
    dir: PathBuf,
    stem: String,
    load_id: String,
    sinks: BTreeMap<&'static str, ParquetSink>,
}

impl PartWriter {
    fn sink(&mut self, table: &'static str) -> Result<&mut ParquetSink, WarehouseError> {
        match self.sinks.entry(table) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let dir = self.dir.join(table);
                std::fs::create_dir_all(&dir).map_err(warehouse::io_err(&dir))?;
                let schema = match table {
                    "enrolment_rows" => warehouse::enrolment_rows_schema(),
                    "activity_rows" => warehouse::activity_rows_schema(),
                    _ => warehouse::rejects_schema(),
                };
                let path = dir.join(format!("{}.parquet", self.stem));
                Ok(e.insert(ParquetSink::create(&path, schema)?))
            }
        }
    }

    fn write(&mut self, part: Part) -> Result<(), WarehouseError> {
        let (table, batch) = match part {
            Part::Enrolments(rows) => (
                "enrolment_rows",
                warehouse::enrolment_batch(&rows, &self.load_id)?,
            ),
            Part::Activities(rows) => (
                "activity_rows",
                warehouse::activity_batch(&rows, &self.load_id)?,
            ),
            Part::Rejects(rows) => ("rejects", warehouse::reject_batch(&rows, &self.load_id)?),
        };
        self.sink(table)?.write(&batch)
    }

    fn run(mut self, rx: Receiver<Part>) -> Result<(), WarehouseError> {
        for part in rx {
            self.write(part)?;
        }
        for (_, s) in std::mem::take(&mut self.sinks) {
            s.finish()?;
        }
        Ok(())
    }
}

impl FileParts {
    fn new(dir: &Path, stem: String, load_id: &str) -> Result<Self, WarehouseError> {
        let (tx, rx) = sync_channel(2);
        let writer = PartWriter {
            dir: dir.to_path_buf(),
            stem,
            load_id: load_id.to_string(),
            sinks: BTreeMap::new(),
        };
        let handle = std::thread::Builder::new()
            .name("followup-parquet".into())
            .spawn(move || writer.run(rx))
            .map_err(warehouse::io_err(dir))?;
        Ok(FileParts {
            enrolments: Vec::new(),
            activities: Vec::new(),
            rejects: Vec::new(),
            tx: Some(tx),
            writer: Some(handle),
        })
    }

    fn send(&mut self, part: Part) -> Result<(), WarehouseError> {
        if self.tx.as_ref().is_some_and(|tx| tx.send(part).is_ok()) {
            return Ok(());
        }
        // The writer stopped: its own error says why.
        self.join()?;
        Err(WarehouseError::Io {
            path: PathBuf::from("staging"),
            source: std::io::Error::other("the Parquet writer stopped"),
        })
    }

    fn flush(&mut self, all: bool) -> Result<(), WarehouseError> {
        if self.enrolments.len() >= BATCH || (all && !self.enrolments.is_empty()) {
            let rows = std::mem::replace(&mut self.enrolments, Vec::with_capacity(BATCH));
            self.send(Part::Enrolments(rows))?;
        }
        if self.activities.len() >= BATCH || (all && !self.activities.is_empty()) {
            let rows = std::mem::take(&mut self.activities);
            self.send(Part::Activities(rows))?;
        }
        if self.rejects.len() >= BATCH || (all && !self.rejects.is_empty()) {
            let rows = std::mem::take(&mut self.rejects);
            self.send(Part::Rejects(rows))?;
        }
        Ok(())
    }

    /// Close the channel and wait for the writer; its error, or a panic, comes back here.
    fn join(&mut self) -> Result<(), WarehouseError> {
        self.tx = None;
        match self.writer.take() {
            None => Ok(()),
            Some(h) => h.join().unwrap_or_else(|p| {
                Err(WarehouseError::Io {
                    path: PathBuf::from("staging"),
                    source: std::io::Error::other(format!(
                        "the Parquet writer panicked: {}",
                        panic_message(p.as_ref())
                    )),
                })
            }),
        }
    }

    fn finish(mut self) -> Result<(), WarehouseError> {
        self.flush(true)?;
        self.join()
    }
}

impl Drop for FileParts {
    /// A failed file still waits for its writer, so its part files are closed before they are removed.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

struct FileJob<'a> {
    pipeline: &'a Pipeline,
    source: &'a Source,
    source_id: String,
    path: PathBuf,
    display: String,
    /// sha256 of the pipeline file: a changed mapping means every file of the project is parsed again.
    config_fingerprint: &'a str,
}

/// What a previous snapshot offers for reuse: its folder and its last run's file loads by cache key.
struct Previous {
    dir: PathBuf,
    by_cache_key: BTreeMap<String, FileLoad>,
    last_load: Vec<FileLoad>,
}

const STAGED_TABLES: [&str; 3] = ["enrolment_rows", "activity_rows", "rejects"];

fn part_stem(project_id: &str, cache_key: &str) -> String {
    format!("{project_id}-{}", &cache_key[..16.min(cache_key.len())])
}

/// Hard-link (or copy) a file's staged parts from the previous snapshot. False if any expected part is
/// missing, in which case nothing is linked and the file is parsed again.
fn reuse_parts(prev: &Path, staging: &Path, stem: &str, load: &FileLoad) -> bool {
    let file = format!("{stem}.parquet");
    let wanted: Vec<&str> = STAGED_TABLES
        .iter()
        .copied()
        .filter(|t| prev.join(t).join(&file).exists())
        .collect();
    let has_rows = wanted.iter().any(|t| *t != "rejects");
    let has_rejects = wanted.contains(&"rejects");
    if (load.rows_loaded > 0) != has_rows || (load.rows_rejected > 0) != has_rejects {
        return false;
    }
    for t in &wanted {
        let dir = staging.join(t);
        if std::fs::create_dir_all(&dir).is_err() {
            return false;
        }
        let (from, to) = (prev.join(t).join(&file), dir.join(&file));
        if std::fs::hard_link(&from, &to).is_err() && std::fs::copy(&from, &to).is_err() {
            return false;
        }
    }
    true
}

fn cache_key(job: &FileJob<'_>, sha256: &str, key_fingerprint: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        job.display.as_str(),
        job.source_id.as_str(),
        sha256,
        job.config_fingerprint,
        key_fingerprint,
        env!("CARGO_PKG_VERSION"),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Read, normalise and stage one file. Never panics out and never aborts the run: every outcome becomes a
/// `FileLoad` row.
fn process_file(
    job: &FileJob<'_>,
    staging: &Path,
    load_id: &str,
    pseudo: &Pseudonymiser,
    previous: Option<&Previous>,
) -> FileLoad {
    let mut load = FileLoad {
        load_id: load_id.to_string(),
        project_id: job.pipeline.project_id().to_string(),
        source_id: Some(job.source_id.clone()),
        path: job.display.clone(),
        status: "failed".into(),
        ..Default::default()
    };
    let sha = match sha256_file(&job.path) {
        Ok((h, n)) => {
            load.bytes = Some(n);
            h
        }
        Err(e) => {
            load.error = Some(format!("{}: cannot read: {e}", job.display));
            return load;
        }
    };
    let key = cache_key(job, &sha, &pseudo.fingerprint);
    load.sha256 = Some(sha);
    let stem = part_stem(job.pipeline.project_id(), &key);
    load.cache_key = Some(key.clone());
    // Unchanged since the last successful run: reuse its staged rows instead of parsing again.
    if let Some(prev) = previous {
        if let Some(before) = prev.by_cache_key.get(&key) {
            if reuse_parts(&prev.dir, staging, &stem, before) {
                return FileLoad {
                    load_id: load_id.to_string(),
                    status: "unchanged".into(),
                    source_id: Some(job.source_id.clone()),
                    ..before.clone()
                };
            }
            remove_parts(staging, &stem);
        }
    }
    let attempt = |load: &mut FileLoad, whole_sheet: bool| {
        FileParts::new(staging, stem.clone(), load_id)
            .map_err(FileFailure::Write)
            .and_then(|mut parts| {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    ingest_rows(job, load, &mut parts, pseudo, whole_sheet)
                }));
                match result {
                    Ok(r) => r.and_then(|()| parts.finish().map_err(FileFailure::Write)),
                    Err(p) => Err(FileFailure::Read(ReadError::Panic(panic_message(
                        p.as_ref(),
                    )))),
                }
            })
    };
    let mut outcome = attempt(&mut load, false);
    if let Err(FileFailure::Read(ReadError::OutOfOrder { row, col })) = &outcome {
        // Streamed rows were already counted and staged: start the file again, its sheet held whole.
        info!(file = %job.display, row, col, "cells listed out of order; reading the sheet whole");
        remove_parts(staging, &stem);
        load = FileLoad {
            rows_read: 0,
            rows_loaded: 0,
            rows_rejected: 0,
            rows_skipped: 0,
            ..load
        };
        outcome = attempt(&mut load, true);
    }
    match outcome {
        Ok(()) => {
            load.status = "loaded".into();
        }
        Err(e) => {
            load.error = Some(format!("{}: {e}", job.display));
            load.rows_read = 0;
            load.rows_loaded = 0;
            load.rows_rejected = 0;
            load.rows_skipped = 0;
            // The caller removes this file's part files.
        }
    }
    load
}

#[derive(Debug, thiserror::Error)]
enum FileFailure {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("{0}")]
    ExportDate(String),
    #[error("staging: {0}")]
    Write(#[from] WarehouseError),
}

fn ingest_rows(
    job: &FileJob<'_>,
    load: &mut FileLoad,
    parts: &mut FileParts,
    pseudo: &Pseudonymiser,
    whole_sheet: bool,
) -> Result<(), FileFailure> {
    let source = job.source;
    let opts = ReadOptions {
        whole_sheet,
        ..read_options(source)
    };
    let result = (|| -> Result<(), FileFailure> {
        let mut src = ingest::open(&job.path, &opts)?;
        let info = src.info().clone();
        load.format = info.format.map(|f| f.as_str().to_string());
        load.sheet = info.sheet.clone();
        load.encoding = info.encoding.map(str::to_string);
        let export =
            export_date(&job.path, source, src.as_mut()).map_err(FileFailure::ExportDate)?;
        load.export_date = Some(export);
        let wanted = normalise::wanted_headers(source);
        let asked: Vec<(String, bool)> = wanted.iter().map(|(_, h, r)| (h.clone(), *r)).collect();
        let (header, pending) =
            ingest::find_header(src.as_mut(), source.header_row.as_ref(), &asked)?;
        load.header_row = Some(header.row as i64);
        let mapped: Vec<_> = wanted
            .iter()
            .zip(&header.columns)
            .map(|((f, h, _), c)| (*f, h.clone(), *c))
            .collect();
        let mut missing = Vec::new();
        for (f, h, c) in &mapped {
            if c.is_none() {
                warn!(file = %job.display, column = %h, field = f.as_str(), "optional mapped column not found; the field is left empty");
                missing.push(h.as_str());
            }
        }
        load.columns_missing = (!missing.is_empty()).then(|| missing.join(", "));
        let mut ctx = FileContext::new(
            job.pipeline,
            source,
            &mapped,
            export,
            job.display.clone(),
            info.sheet.clone(),
        );
        ctx.date_1904 = info.date_1904;
        // Title rows above the header are read and skipped.
        load.rows_read += header.rows_before.len() as i64;
        load.rows_skipped += header.rows_before.len() as i64;
        let mut handle = |row: &ingest::RawRow,
                          load: &mut FileLoad,
                          parts: &mut FileParts|
         -> Result<(), FileFailure> {
            load.rows_read += 1;
            match ctx.normalise(row, pseudo) {
                RowOutcome::Skipped(_) => load.rows_skipped += 1,
                RowOutcome::Enrolment(e) => {
                    load.rows_loaded += 1;
                    parts.enrolments.push(*e);
                }
                RowOutcome::Activity(a) => {
                    load.rows_loaded += 1;
                    parts.activities.push(*a);
                }
                RowOutcome::Rejected(rs) => {
                    load.rows_rejected += 1;
                    for r in rs {
                        parts.rejects.push(RejectRow {
                            project_id: job.pipeline.project_id().to_string(),
                            source_file: job.display.clone(),
                            source_sheet: info.sheet.clone(),
                            source_row: Some(row.row),
                            reject: r,
                        });
                    }
                }
            }
            parts.flush(false)?;
            Ok(())
        };
        for row in &pending {
            handle(row, load, parts)?;
        }
        let read: Vec<usize> = mapped.iter().filter_map(|(_, _, c)| *c).collect();
        src.keep_columns(&read);
        // The file is parsed and decoded on its own thread, a chunk of rows ahead of normalisation.
        let (tx, rx) = sync_channel::<Result<Vec<ingest::RawRow>, ReadError>>(4);
        let warnings = std::thread::scope(|scope| -> Result<Vec<String>, FileFailure> {
            let reader = scope.spawn(move || read_chunks(src, tx));
            for chunk in rx {
                for row in &chunk? {
                    handle(row, load, parts)?;
                }
            }
            reader
                .join()
                .map_err(|p| FileFailure::Read(ReadError::Panic(panic_message(p.as_ref()))))
        })?;
        if !warnings.is_empty() {
            for w in &warnings {
                warn!(file = %job.display, "{w}");
            }
            load.warnings = Some(warnings.join("; "));
        }
        Ok(())
    })();
    result
}

/// Process files on as many workers as there are cores (small files are bound by per-file work, large
/// ones by their own reader, normaliser and writer threads). Results come back in the order of `jobs`.
fn process_files(
    jobs: &[&FileJob<'_>],
    staging: &Path,
    load_id: &str,
    pseudo: &Pseudonymiser,
    previous: Option<&Previous>,
    progress: &crate::progress::Progress,
) -> Vec<FileLoad> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<FileLoad>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(job), Some(slot)) = (jobs.get(i), results.get(i)) else {
                    break;
                };
                progress.file(&job.display);
                let load = process_file(job, staging, load_id, pseudo, previous);
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(load);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_default()
        })
        .collect()
}

/// Rows per message from a file's reader thread to its normaliser.
const CHUNK: usize = 1024;

/// The reader thread: send the rows in chunks, then a read error if one stops the file; return the
/// reader's warnings. Stops early when the normaliser has hung up (the file failed).
fn read_chunks(
    mut src: Box<dyn RowSource>,
    tx: SyncSender<Result<Vec<ingest::RawRow>, ReadError>>,
) -> Vec<String> {
    loop {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut end = None;
        while chunk.len() < CHUNK {
            match src.next_row() {
                Ok(Some(row)) => chunk.push(row),
                Ok(None) => {
                    end = Some(Ok(()));
                    break;
                }
                Err(e) => {
                    end = Some(Err(e));
                    break;
                }
            }
        }
        if !chunk.is_empty() && tx.send(Ok(chunk)).is_err() {
            break;
        }
        match end {
            None => {}
            Some(Ok(())) => break,
            Some(Err(e)) => {
                let _ = tx.send(Err(e));
                break;
            }
        }
    }
    src.info().warnings.clone()
}

/// How the readers should open a source's files.
fn read_options(source: &Source) -> ReadOptions {
    ReadOptions {
        sheet: source.sheet.clone(),
        encoding: source.encoding,
        delimiter: source
            .delimiter
            .as_deref()
            .filter(|d| *d != "auto")
            .and_then(|d| d.bytes().next()),
        whole_sheet: false,
    }
}

fn display_path(path: &Path, pipeline: &Pipeline) -> String {
    let base = pipeline.input_dir();
    let rel = path.strip_prefix(&base).unwrap_or(path);
    format!(
        "{}/{}",
        pipeline.project_id(),
        rel.to_string_lossy().replace('\\', "/")
    )
}

/// The whole nightly job. Returns the summary on any outcome where the run got as far as ingesting.
pub async fn run(opts: &RunOptions, key: &Key) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let pipelines = config::load_dir(&opts.pipelines_dir).map_err(RunError::Config)?;
    if let Some(only) = &opts.only {
        if !pipelines.iter().any(|p| p.project_id() == only) {
            return Err(RunError::UnknownProject(only.clone()));
        }
    }
    // Before any file is read: without its models a run could only stage and stop.
    if !opts.sql_dir.is_dir() {
        return Err(RunError::NoSqlDir(opts.sql_dir.clone()));
    }
    let layout = Layout::new(&opts.warehouse_dir);
    std::fs::create_dir_all(layout.snapshots()).map_err(warehouse::io_err(&layout.snapshots()))?;
    let _lock = RunLock::acquire(&layout.lock())?;

    let mut load_id = started_at.format("%Y%m%dT%H%M%S%3fZ").to_string();
    while layout.snapshot(&load_id).exists() {
        load_id.push('x');
    }
    let span = tracing::info_span!("run", load_id = %load_id);
    let _entered = span.enter();
    let mut summary = RunSummary {
        load_id: load_id.clone(),
        ..Default::default()
    };
    let result = run_locked(
        opts,
        key,
        &pipelines,
        &layout,
        &load_id,
        started_at,
        &mut summary,
    )
    .await;
    summary.duration_ms = started.elapsed().as_millis();
    crate::history::record(
        &layout,
        &summary,
        started_at,
        result.as_ref().err().map(|e| e.to_string()),
    );
    result.map(|()| summary)
}

#[allow(clippy::too_many_arguments)]
async fn run_locked(
    opts: &RunOptions,
    key: &Key,
    pipelines: &[Pipeline],
    layout: &Layout,
    load_id: &str,
    started_at: chrono::DateTime<Utc>,
    summary: &mut RunSummary,
) -> Result<(), RunError> {
    let staging = layout.snapshots().join(format!(".staging-{load_id}"));
    std::fs::create_dir_all(&staging).map_err(warehouse::io_err(&staging))?;
    info!(
        pipelines = pipelines.len(),
        only = opts.only.as_deref().unwrap_or(""),
        "run started"
    );

    let previous_dir = layout.current_snapshot();
    let previous_loads = read_previous_file_loads(previous_dir.as_deref()).await;
    let previous = previous_dir.as_ref().map(|dir| {
        let last = previous_loads
            .iter()
            .map(|f| f.load_id.as_str())
            .max()
            .unwrap_or("")
            .to_string();
        let last_load: Vec<FileLoad> = previous_loads
            .iter()
            .filter(|f| f.load_id == last && f.status != "failed")
            .cloned()
            .collect();
        Previous {
            dir: dir.clone(),
            by_cache_key: last_load
                .iter()
                .filter_map(|f| f.cache_key.clone().map(|k| (k, f.clone())))
                .collect(),
            last_load,
        }
    });

    let pseudo = Pseudonymiser::new(&key.bytes);
    let progress = crate::progress::Progress::new(count_files(pipelines, opts.only.as_deref()));
    for pipeline in pipelines {
        if opts
            .only
            .as_deref()
            .is_some_and(|o| o != pipeline.project_id())
        {
            // Not asked for this time: the project keeps what the previous snapshot had.
            carry_over(pipeline, previous.as_ref(), &staging, load_id, summary);
            continue;
        }
        let config_fingerprint = std::fs::read(&pipeline.path)
            .map(|b| hex::encode(Sha256::digest(&b)))
            .unwrap_or_default();
        let dir = pipeline.input_dir();
        // Every file of the project in plan order; a source whose globs fail is a failed load in its place.
        let mut planned: Vec<Result<FileJob<'_>, FileLoad>> = Vec::new();
        for (i, source) in pipeline.file.sources.iter().enumerate() {
            let source_id = source.source_id(i);
            let files = match ingest::expand_globs(&dir, &source.files) {
                Ok(f) => f,
                Err(e) => {
                    error!(project = pipeline.project_id(), source = %source_id, "{e}");
                    planned.push(Err(FileLoad {
                        load_id: load_id.to_string(),
                        project_id: pipeline.project_id().to_string(),
                        source_id: Some(source_id.clone()),
                        path: dir.display().to_string(),
                        status: "failed".into(),
                        error: Some(e),
                        ..Default::default()
                    }));
                    continue;
                }
            };
            if files.is_empty() {
                warn!(project = pipeline.project_id(), source = %source_id, globs = ?source.files, "no files match this source");
            }
            for path in files {
                planned.push(Ok(FileJob {
                    pipeline,
                    source,
                    source_id: source_id.clone(),
                    display: display_path(&path, pipeline),
                    path,
                    config_fingerprint: &config_fingerprint,
                }));
            }
        }
        let jobs: Vec<&FileJob<'_>> = planned.iter().filter_map(|p| p.as_ref().ok()).collect();
        let mut loads = process_files(
            &jobs,
            &staging,
            load_id,
            &pseudo,
            previous.as_ref(),
            &progress,
        )
        .into_iter();
        for plan in &planned {
            let load = match plan {
                Err(failed) => failed.clone(),
                // One result per job, in order.
                Ok(_) => loads.next().unwrap_or_default(),
            };
            match load.status.as_str() {
                "failed" => {
                    error!(project = %load.project_id, file = %load.path, error = load.error.as_deref().unwrap_or(""), "file not loaded");
                    if let Some(k) = &load.cache_key {
                        remove_parts(&staging, &part_stem(pipeline.project_id(), k));
                    }
                }
                status => {
                    info!(project = %load.project_id, file = %load.path, status, rows_read = load.rows_read, rows_loaded = load.rows_loaded, rows_rejected = load.rows_rejected, rows_skipped = load.rows_skipped, "file loaded");
                }
            }
            summary.files.push(load);
        }
    }
    progress.stage("building the warehouse");
    // Every staged table exists, even when empty, so models and queries can rely on it.
    ensure_table(
        &staging,
        "enrolment_rows",
        warehouse::enrolment_rows_schema(),
    )?;
    ensure_table(&staging, "activity_rows", warehouse::activity_rows_schema())?;
    ensure_table(&staging, "rejects", warehouse::rejects_schema())?;

    // Report date per project: --report-date, else the pipeline's, else the latest export date loaded.
    let mut report_dates = BTreeMap::new();
    for p in pipelines {
        let latest = summary
            .files
            .iter()
            .filter(|f| f.project_id == p.project_id() && f.status != "failed")
            .filter_map(|f| f.export_date)
            .max();
        let d = opts
            .report_date
            .or(p.file.project.report_date.map(|d| d.0))
            .or(latest)
            .unwrap_or(p.file.project.period_end.0);
        report_dates.insert(p.project_id().to_string(), d);
    }
    for (name, batch) in warehouse::reference_batches(pipelines, &report_dates)? {
        warehouse::write_table(&staging.join(format!("{name}.parquet")), &batch)?;
    }

    // History tables carry the previous snapshot's rows forward.
    let mut file_loads = previous_loads;
    file_loads.extend(summary.files.iter().cloned());
    warehouse::write_table(
        &staging.join("file_loads.parquet"),
        &warehouse::file_loads_batch(&file_loads)?,
    )?;
    let sum = |f: fn(&FileLoad) -> i64| summary.files.iter().map(f).sum::<i64>();
    let mut run_row = RunRow {
        load_id: load_id.to_string(),
        started_at_us: started_at.timestamp_micros(),
        finished_at_us: Utc::now().timestamp_micros(),
        status: if summary.files_failed() > 0 {
            "published_with_errors".into()
        } else {
            "published".into()
        },
        files: summary.files.len() as i64,
        files_loaded: summary
            .files
            .iter()
            .filter(|f| f.status == "loaded")
            .count() as i64,
        files_unchanged: summary
            .files
            .iter()
            .filter(|f| f.status == "unchanged")
            .count() as i64,
        files_failed: summary.files_failed() as i64,
        rows_read: sum(|f| f.rows_read),
        rows_loaded: sum(|f| f.rows_loaded),
        rows_rejected: sum(|f| f.rows_rejected),
        rows_skipped: sum(|f| f.rows_skipped),
        key_fingerprint: pseudo.fingerprint.clone(),
        key_source: key.source.clone(),
    };
    // Every file is read: the pseudonym cache (personnummer to pseudonym, up to ~35 MB) is not kept a
    // moment longer, neither for its contents nor for the models' memory.
    drop(pseudo);

    // The ingest's peak memory, before the models' hash tables and sorts: whether reading files stays
    // flat as they grow shows here (nightly logs, the benchmarks' scaling curve).
    match models::peak_rss_mib() {
        Some(mib) => info!(peak_rss_mib = mib, "ingest finished"),
        None => info!("ingest finished"),
    }

    // Models and data tests.
    progress.stage("running the SQL models");
    let ctx = models::session();
    models::register_snapshot(&ctx, &staging).await?;
    let list = models::discover(&ctx, &opts.sql_dir)?;
    summary.models = models::build(&ctx, &list, &staging).await?;
    for m in list.iter().filter(|m| m.is_test) {
        summary.tests_run += 1;
        let (n, batches) = models::run_test(&ctx, m).await?;
        if n > 0 {
            let rows = failing_rows(&batches, FAILING_ROWS_SHOWN);
            error!(test = %m.name, failing_rows = n, severity = ?m.severity, first = %rows.first().map_or("", String::as_str), "data test failed");
            summary.failed_tests.push((m.name.clone(), m.severity, n));
            summary.failed_test_rows.insert(m.name.clone(), rows);
        } else {
            info!(test = %m.name, "data test passed");
        }
    }
    publish_protected_marts(&ctx, &staging, opts.min_cell).await?;
    let blocking: Vec<&str> = summary
        .failed_tests
        .iter()
        .filter(|(_, s, _)| *s == Severity::Error)
        .map(|(n, _, _)| n.as_str())
        .collect();
    summary.rejects_by_rule = rejects_by_rule(&ctx).await;

    if !blocking.is_empty() {
        error!(tests = ?blocking, "data tests failed: the new snapshot is NOT published; the previous one stays current");
        let _ = std::fs::remove_dir_all(&staging);
        return Ok(());
    }

    run_row.finished_at_us = Utc::now().timestamp_micros();
    if !summary.failed_tests.is_empty() && run_row.status == "published" {
        run_row.status = "published_with_errors".into();
    }
    // The shareable run report, from the published marts; written before the switch so that a
    // published snapshot always has one.
    let report = crate::report::ReportInput {
        summary: &*summary,
        started_at,
        duration_ms: (Utc::now() - started_at).num_milliseconds().max(0) as u128,
        status: &run_row.status,
        min_cell: opts.min_cell,
    };
    crate::report::write(&staging, &report)?;
    let mut runs = read_previous_runs(previous_dir.as_deref()).await;
    runs.push(run_row);
    warehouse::write_table(
        &staging.join("runs.parquet"),
        &warehouse::runs_batch(&runs)?,
    )?;

    // Publish: the staging folder becomes the snapshot, then `current` switches atomically.
    progress.stage("publishing");
    sync_tree(&staging);
    let snap = layout.snapshot(load_id);
    std::fs::rename(&staging, &snap).map_err(warehouse::io_err(&snap))?;
    layout.publish(load_id)?;
    summary.published = true;
    prune_snapshots(layout, opts.keep_snapshots, load_id);
    progress.finish();
    Ok(())
}

/// Flush a snapshot's files to disk before it is published, so a power cut cannot publish a torn file.
fn sync_tree(dir: &Path) {
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if let Ok(f) = std::fs::File::open(e.path()) {
            let _ = f.sync_all();
        }
    }
}

fn count_files(pipelines: &[Pipeline], only: Option<&str>) -> u64 {
    pipelines
        .iter()
        .filter(|p| only.is_none_or(|o| o == p.project_id()))
        .flat_map(|p| {
            let dir = p.input_dir();
            p.file
                .sources
                .iter()
                .map(move |s| ingest::expand_globs(&dir, &s.files).map_or(0, |f| f.len() as u64))
        })
        .sum()
}

/// `--only` left this project out: link its staged rows from the previous snapshot, unchanged.
fn carry_over(
    pipeline: &Pipeline,
    previous: Option<&Previous>,
    staging: &Path,
    load_id: &str,
    summary: &mut RunSummary,
) {
    let Some(prev) = previous else {
        warn!(
            project = pipeline.project_id(),
            "not in --only and no previous snapshot: the project is empty in this snapshot"
        );
        return;
    };
    for before in prev
        .last_load
        .iter()
        .filter(|f| f.project_id == pipeline.project_id())
    {
        let Some(k) = &before.cache_key else { continue };
        let stem = part_stem(pipeline.project_id(), k);
        if reuse_parts(&prev.dir, staging, &stem, before) {
            summary.files.push(FileLoad {
                load_id: load_id.to_string(),
                status: "unchanged".into(),
                ..before.clone()
            });
        } else {
            warn!(project = pipeline.project_id(), file = %before.path, "previous rows of this file are missing; run without --only to load it again");
        }
    }
}

fn remove_parts(staging: &Path, stem: &str) {
    for table in STAGED_TABLES {
        let _ = std::fs::remove_file(staging.join(table).join(format!("{stem}.parquet")));
    }
}

fn ensure_table(
    staging: &Path,
    name: &str,
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> Result<(), WarehouseError> {
    let dir = staging.join(name);
    std::fs::create_dir_all(&dir).map_err(warehouse::io_err(&dir))?;
    let empty = std::fs::read_dir(&dir)
        .map_err(warehouse::io_err(&dir))?
        .next()
        .is_none();
    if empty {
        let path = dir.join("empty.parquet");
        ParquetSink::create(&path, schema)?.finish()?;
    }
    Ok(())
}

fn prune_snapshots(layout: &Layout, keep: usize, current: &str) {
    let Ok(rd) = std::fs::read_dir(layout.snapshots()) else {
        return;
    };
    let mut snaps: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    snaps.sort();
    let excess = snaps.len().saturating_sub(keep.max(1));
    for name in snaps.into_iter().take(excess) {
        if name != current {
            let _ = std::fs::remove_dir_all(layout.snapshot(&name));
        }
    }
    // Staging folders of runs that were killed are garbage.
    if let Ok(rd) = std::fs::read_dir(layout.snapshots()) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(".staging-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

async fn query_previous(
    prev: Option<&Path>,
    table: &str,
) -> Vec<datafusion::arrow::array::RecordBatch> {
    let Some(dir) = prev else { return Vec::new() };
    let path = dir.join(format!("{table}.parquet"));
    if !path.exists() {
        return Vec::new();
    }
    let ctx = models::session();
    if models::register_parquet(&ctx, table, &path).await.is_err() {
        return Vec::new();
    }
    match ctx.sql(&format!("select * from {table}")).await {
        Ok(df) => df.collect().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn read_previous_file_loads(prev: Option<&Path>) -> Vec<FileLoad> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Date32Type, Int64Type};
    let mut out = Vec::new();
    for b in query_previous(prev, "file_loads").await {
        let s = |name: &str, i: usize| -> Option<String> {
            let c = b.column_by_name(name)?.as_string_opt::<i32>()?;
            (!c.is_null(i)).then(|| c.value(i).to_string())
        };
        let n = |name: &str, i: usize| -> Option<i64> {
            let c = b.column_by_name(name)?.as_primitive_opt::<Int64Type>()?;
            (!c.is_null(i)).then(|| c.value(i))
        };
        let d = |name: &str, i: usize| -> Option<NaiveDate> {
            let c = b.column_by_name(name)?.as_primitive_opt::<Date32Type>()?;
            (!c.is_null(i))
                .then(|| NaiveDate::default() + chrono::Duration::days(i64::from(c.value(i))))
        };
        for i in 0..b.num_rows() {
            out.push(FileLoad {
                load_id: s("load_id", i).unwrap_or_default(),
                project_id: s("project_id", i).unwrap_or_default(),
                source_id: s("source_id", i),
                path: s("path", i).unwrap_or_default(),
                sha256: s("sha256", i),
                bytes: n("bytes", i),
                format: s("format", i),
                sheet: s("sheet", i),
                encoding: s("encoding", i),
                header_row: n("header_row", i),
                export_date: d("export_date", i),
                rows_read: n("rows_read", i).unwrap_or(0),
                rows_loaded: n("rows_loaded", i).unwrap_or(0),
                rows_rejected: n("rows_rejected", i).unwrap_or(0),
                rows_skipped: n("rows_skipped", i).unwrap_or(0),
                status: s("status", i).unwrap_or_default(),
                error: s("error", i),
                warnings: s("warnings", i),
                cache_key: s("cache_key", i),
                columns_missing: s("columns_missing", i),
            });
        }
    }
    out
}

async fn read_previous_runs(prev: Option<&Path>) -> Vec<RunRow> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    let mut out = Vec::new();
    for b in query_previous(prev, "runs").await {
        let s = |name: &str, i: usize| -> String {
            b.column_by_name(name)
                .and_then(|c| c.as_string_opt::<i32>().map(|c| c.value(i).to_string()))
                .unwrap_or_default()
        };
        let n = |name: &str, i: usize| -> i64 {
            b.column_by_name(name)
                .and_then(|c| {
                    c.as_primitive_opt::<Int64Type>()
                        .map(|c| if c.is_null(i) { 0 } else { c.value(i) })
                })
                .unwrap_or(0)
        };
        let t = |name: &str, i: usize| -> i64 {
            b.column_by_name(name)
                .and_then(|c| {
                    c.as_primitive_opt::<TimestampMicrosecondType>()
                        .map(|c| c.value(i))
                })
                .unwrap_or(0)
        };
        for i in 0..b.num_rows() {
            out.push(RunRow {
                load_id: s("load_id", i),
                started_at_us: t("started_at", i),
                finished_at_us: t("finished_at", i),
                status: s("status", i),
                files: n("files", i),
                files_loaded: n("files_loaded", i),
                files_unchanged: n("files_unchanged", i),
                files_failed: n("files_failed", i),
                rows_read: n("rows_read", i),
                rows_loaded: n("rows_loaded", i),
                rows_rejected: n("rows_rejected", i),
                rows_skipped: n("rows_skipped", i),
                key_fingerprint: s("key_fingerprint", i),
                key_source: s("key_source", i),
            });
        }
    }
    out
}

async fn rejects_by_rule(ctx: &datafusion::prelude::SessionContext) -> BTreeMap<String, u64> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let mut out = BTreeMap::new();
    let Ok(df) = ctx
        .sql("select rule, count(*) as n from rejects group by rule order by rule")
        .await
    else {
        return out;
    };
    for b in df.collect().await.unwrap_or_default() {
        let (Some(r), Some(n)) = (
            b.column(0).as_string_opt::<i32>(),
            b.column(1).as_primitive_opt::<Int64Type>(),
        ) else {
            continue;
        };
        for i in 0..b.num_rows() {
            out.insert(r.value(i).to_string(), n.value(i) as u64);
        }
    }
    out
}

/// What `followup validate` found for one pipeline's sources.
pub struct SourceReport {
    pub lines: Vec<String>,
    pub problems: usize,
}

/// Open every file a pipeline's sources match and locate its header, without writing anything.
pub fn check_sources(pipeline: &Pipeline) -> SourceReport {
    let mut report = SourceReport {
        lines: vec![format!(
            "{} ({})",
            pipeline.project_id(),
            pipeline.path.display()
        )],
        problems: 0,
    };
    let dir = pipeline.input_dir();
    for (i, source) in pipeline.file.sources.iter().enumerate() {
        let files = match ingest::expand_globs(&dir, &source.files) {
            Ok(f) => f,
            Err(e) => {
                report.lines.push(format!("  sources[{i}]: {e}"));
                report.problems += 1;
                continue;
            }
        };
        if files.is_empty() {
            report.lines.push(format!(
                "  sources[{i}]: warning: no files match {:?} in {}",
                source.files,
                dir.display()
            ));
        }
        let opts = read_options(source);
        let wanted = normalise::wanted_headers(source);
        let asked: Vec<(String, bool)> = wanted.iter().map(|(_, h, r)| (h.clone(), *r)).collect();
        for path in files {
            let name = display_path(&path, pipeline);
            let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let header_of = |opts: &ReadOptions| {
                    let mut src = ingest::open(&path, opts)?;
                    let found =
                        ingest::find_header(src.as_mut(), source.header_row.as_ref(), &asked)?;
                    Ok::<_, ReadError>((src, found.0))
                };
                let (src, header) = match header_of(&opts) {
                    // Cells out of order in the first rows: as `run` does, read the sheet whole.
                    Err(ReadError::OutOfOrder { .. }) => header_of(&ReadOptions {
                        whole_sheet: true,
                        ..opts.clone()
                    })?,
                    other => other?,
                };
                let missing: Vec<String> = asked
                    .iter()
                    .zip(&header.columns)
                    .filter(|(_, c)| c.is_none())
                    .map(|((h, _), _)| format!("\"{h}\""))
                    .collect();
                Ok::<_, ReadError>((src.info().clone(), header.row, missing))
            }));
            match checked {
                Ok(Ok((info, row, missing))) => {
                    let mut line = format!(
                        "  ok   {name}: {}{}{}, header on row {row}",
                        info.format.map_or("?", |f| f.as_str()),
                        info.sheet
                            .map(|s| format!(", sheet \"{s}\""))
                            .unwrap_or_default(),
                        info.encoding.map(|e| format!(", {e}")).unwrap_or_default(),
                    );
                    if !missing.is_empty() {
                        line.push_str(&format!(
                            "; optional columns not found: {}",
                            missing.join(", ")
                        ));
                    }
                    report.lines.push(line);
                }
                Ok(Err(e)) => {
                    report.lines.push(format!("  FAIL {name}: {e}"));
                    report.problems += 1;
                }
                Err(_) => {
                    report
                        .lines
                        .push(format!("  FAIL {name}: the reader crashed on this file"));
                    report.problems += 1;
                }
            }
        }
    }
    report
}

/// Write the disclosure-controlled copies of the published marts into `published/`.
async fn publish_protected_marts(
    ctx: &datafusion::prelude::SessionContext,
    staging: &Path,
    min_cell: i64,
) -> Result<(), RunError> {
    let dir = staging.join("published");
    std::fs::create_dir_all(&dir).map_err(warehouse::io_err(&dir))?;
    for spec in crate::disclosure::PUBLISHED {
        if !staging.join(format!("{}.parquet", spec.name)).exists() {
            continue;
        }
        let sql_err = |e: datafusion::error::DataFusionError| {
            RunError::Model(ModelError::Sql {
                path: staging.join(format!("{}.parquet", spec.name)),
                message: e.to_string(),
            })
        };
        let df = ctx
            .sql(&format!("select * from {}", spec.name))
            .await
            .map_err(sql_err)?;
        let schema = df.schema().as_arrow().clone();
        let mut batches = df.collect().await.map_err(sql_err)?;
        if batches.is_empty() {
            batches.push(datafusion::arrow::array::RecordBatch::new_empty(
                std::sync::Arc::new(schema),
            ));
        }
        let protected = crate::disclosure::protect(spec, &batches, min_cell)?;
        let hidden = protected
            .column_by_name("suppressed")
            .map(|c| {
                c.as_any()
                    .downcast_ref::<datafusion::arrow::array::BooleanArray>()
                    .map_or(0, |b| b.true_count())
            })
            .unwrap_or(0);
        warehouse::write_table(&dir.join(format!("{}.parquet", spec.name)), &protected)?;
        info!(
            mart = spec.name,
            rows = protected.num_rows(),
            rows_with_hidden_cells = hidden,
            min_cell,
            "published with disclosure control"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn failing_rows_are_column_value_text_masked_capped_and_limited() {
        // A synthetic identity number, built here so no personnummer-shaped literal sits in the source.
        let number = format!("{}{:02}{:02}-{:04}", 1990, 5, 20, 2442);
        let long = "x".repeat(400);
        let schema = Arc::new(Schema::new(vec![
            Field::new("source_id", DataType::Utf8, true),
            Field::new("rows", DataType::Int64, true),
        ]));
        let batch = |ids: Vec<Option<&str>>, rows: Vec<Option<i64>>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(ids)),
                    Arc::new(Int64Array::from(rows)),
                ],
            )
            .unwrap()
        };
        let batches = [
            batch(vec![Some("gavle"), None], vec![Some(3), None]),
            batch(
                vec![Some(number.as_str()), Some(long.as_str()), Some("more")],
                vec![Some(1), Some(2), Some(4)],
            ),
        ];
        let rows = failing_rows(&batches, 4);
        assert_eq!(rows.len(), 4, "the limit, across batches");
        assert_eq!(rows[0], "source_id=gavle rows=3");
        assert_eq!(rows[1], "source_id=null rows=null");
        assert_eq!(rows[2], "source_id=19900520-**** rows=1");
        assert_eq!(rows[3].chars().count(), FAILING_ROW_CHARS + 1);
        assert!(rows[3].ends_with('…'));
    }
}
