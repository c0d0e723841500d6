//! Run history for operators: one JSON record per run under `warehouse/runs/`, written whether or not the
//! run published (a snapshot only knows the runs that published it), `followup status` to read them and
//! `followup rollback` to switch `current` back to the previous snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::run::RunSummary;
use crate::warehouse::{FileLoad, Layout};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub load_id: String,
    pub started_at: String,
    pub duration_ms: u64,
    /// published | published_with_errors | not_published | failed
    pub status: String,
    pub error: Option<String>,
    pub files: Vec<FileLoad>,
    pub rejects_by_rule: BTreeMap<String, u64>,
    pub data_tests_run: usize,
    pub data_tests_failed: Vec<String>,
}

fn runs_dir(layout: &Layout) -> PathBuf {
    layout.root.join("runs")
}

/// Write the record of a run; failures to write are logged, never fatal.
pub fn record(
    layout: &Layout,
    summary: &RunSummary,
    started_at: chrono::DateTime<chrono::Utc>,
    error: Option<String>,
) {
    let status = if error.is_some() {
        "failed"
    } else if !summary.published {
        "not_published"
    } else if summary.exit_code() == 1 {
        "published_with_errors"
    } else {
        "published"
    };
    let rec = RunRecord {
        load_id: summary.load_id.clone(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        duration_ms: summary.duration_ms as u64,
        status: status.into(),
        error,
        files: summary.files.clone(),
        rejects_by_rule: summary.rejects_by_rule.clone(),
        data_tests_run: summary.tests_run,
        data_tests_failed: summary
            .failed_tests
            .iter()
            .map(|(n, s, rows)| format!("{n} ({s:?}, {rows} rows)"))
            .collect(),
    };
    let dir = runs_dir(layout);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        let tmp = dir.join(format!(".{}.json", rec.load_id));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&rec).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, dir.join(format!("{}.json", rec.load_id)))
    };
    if let Err(e) = write() {
        tracing::warn!(dir = %dir.display(), "could not write the run record: {e}");
    }
}

/// All run records, newest first.
pub fn list(layout: &Layout) -> Vec<RunRecord> {
    let Ok(rd) = std::fs::read_dir(runs_dir(layout)) else {
        return Vec::new();
    };
    let mut out: Vec<RunRecord> = rd
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".json") && !n.starts_with('.')
        })
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    out.sort_by(|a: &RunRecord, b| b.load_id.cmp(&a.load_id));
    out
}

fn count(rec: &RunRecord, status: &str) -> usize {
    rec.files.iter().filter(|f| f.status == status).count()
}

/// The last runs, one line each.
pub fn status_table(layout: &Layout, limit: usize) -> String {
    let mut out = String::new();
    let current = layout
        .current_snapshot()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let _ = writeln!(
        out,
        "current snapshot: {}",
        current.as_deref().unwrap_or("none (nothing published yet)")
    );
    let _ = writeln!(
        out,
        "{:<22} {:<20} {:>8}  {:<22} {:>6} {:>9} {:>6}  {:>8} {:>8}  tests  rejects by rule",
        "run", "started", "secs", "status", "loaded", "unchanged", "failed", "rows", "rejected"
    );
    for r in list(layout).iter().take(limit) {
        let rows: i64 = r.files.iter().map(|f| f.rows_loaded).sum();
        let rejected: i64 = r.files.iter().map(|f| f.rows_rejected).sum();
        let rules: Vec<String> = r
            .rejects_by_rule
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<22} {:<20} {:>8.1}  {:<22} {:>6} {:>9} {:>6}  {:>8} {:>8}  {}/{}  {}",
            r.load_id,
            r.started_at,
            r.duration_ms as f64 / 1000.0,
            r.status,
            count(r, "loaded"),
            count(r, "unchanged"),
            count(r, "failed"),
            rows,
            rejected,
            r.data_tests_run - r.data_tests_failed.len().min(r.data_tests_run),
            r.data_tests_run,
            rules.join(", ")
        );
    }
    out
}

/// One run's file-level detail.
pub fn run_detail(layout: &Layout, load_id: &str) -> Option<String> {
    let r = list(layout).into_iter().find(|r| r.load_id == load_id)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run {} started {} took {:.1} s: {}",
        r.load_id,
        r.started_at,
        r.duration_ms as f64 / 1000.0,
        r.status
    );
    if let Some(e) = &r.error {
        let _ = writeln!(out, "error: {e}");
    }
    for t in &r.data_tests_failed {
        let _ = writeln!(out, "data test failed: {t}");
    }
    let _ = writeln!(
        out,
        "{:<10} {:>6} {:>7} {:>8} {:>8}  file",
        "status", "read", "loaded", "rejected", "skipped"
    );
    for f in &r.files {
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>7} {:>8} {:>8}  {}{}",
            f.status,
            f.rows_read,
            f.rows_loaded,
            f.rows_rejected,
            f.rows_skipped,
            f.path,
            f.error
                .as_deref()
                .map(|e| format!("\n           error: {e}"))
                .unwrap_or_default()
        );
    }
    Some(out)
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("nothing is published in {0}")]
    NothingPublished(PathBuf),
    #[error("no snapshot older than the current one ({0}) is kept; see --keep")]
    NoOlder(String),
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
}

/// Point `current` at the newest snapshot older than the current one. Returns (from, to).
pub fn rollback(layout: &Layout) -> Result<(String, String), RollbackError> {
    let current = layout
        .current_snapshot()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| RollbackError::NothingPublished(layout.root.clone()))?;
    let mut snaps: Vec<String> = std::fs::read_dir(layout.snapshots())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    snaps.sort();
    let older = snaps
        .into_iter()
        .rfind(|s| *s < current)
        .ok_or_else(|| RollbackError::NoOlder(current.clone()))?;
    layout.publish(&older)?;
    Ok((current, older))
}
