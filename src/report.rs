//! The run report: `report.html` in every published snapshot (`warehouse/current/report.html` is the
//! latest), one self-contained page to share: the run's summary, its files and rejects per rule, and
//! charts as inline SVG (no JavaScript, nothing fetched from the network).
//!
//! Every participant number in it comes from the disclosure-controlled marts under `published/`; a hidden
//! cell is shown as hidden, never filled in from an unsuppressed table. File-level row counts are about
//! files, not people, and are shown as they are; file names and errors go through the identity-number
//! mask of `rejects` (they should never hold one, but the page is meant to travel). Given the same
//! inputs the page is the same byte for byte, except the fields marked `data-volatile` (load id, start
//! time, duration).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::domain::mask;
use crate::export::{self, Cell, ExportError};
use crate::run::RunSummary;

pub const FILE_NAME: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("run report: {0}")]
    Read(#[from] ExportError),
    #[error("writing the run report {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the run knows that the snapshot's tables do not.
pub struct ReportInput<'a> {
    pub summary: &'a RunSummary,
    pub started_at: DateTime<Utc>,
    /// Until the report was written, i.e. just before publishing.
    pub duration_ms: u128,
    /// published | published_with_errors
    pub status: &'a str,
    pub min_cell: i64,
}

/// Render the report from the snapshot folder (its `published/` marts, `target_followup` and
/// `projects`) and write it as `report.html` there.
pub fn write(snapshot: &Path, input: &ReportInput<'_>) -> Result<PathBuf, ReportError> {
    let html = render(snapshot, input)?;
    let path = snapshot.join(FILE_NAME);
    std::fs::write(&path, html).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// A table read whole, its cells typed as in the exports.
struct Table {
    names: Vec<String>,
    rows: Vec<Vec<Cell<'static>>>,
}

impl Table {
    /// None when the snapshot has no such table (e.g. a custom `--sql` folder without that mart).
    fn read(path: &Path) -> Result<Option<Table>, ReportError> {
        if !path.is_file() {
            return Ok(None);
        }
        let (schema, batches) = export::read_parquet(path)?;
        Ok(Some(Table {
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            rows: export::owned_rows(&batches),
        }))
    }

    fn cell(&self, row: usize, name: &str) -> &Cell<'static> {
        self.names
            .iter()
            .position(|n| n == name)
            .and_then(|c| self.rows.get(row).and_then(|r| r.get(c)))
            .unwrap_or(&Cell::Null)
    }

    fn text(&self, row: usize, name: &str) -> Option<&str> {
        match self.cell(row, name) {
            Cell::Text(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    fn int(&self, row: usize, name: &str) -> Option<i64> {
        match self.cell(row, name) {
            Cell::Int(v) => Some(*v),
            _ => None,
        }
    }

    fn float(&self, row: usize, name: &str) -> Option<f64> {
        match self.cell(row, name) {
            Cell::Float(v) => Some(*v),
            Cell::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    fn date(&self, row: usize, name: &str) -> Option<String> {
        match self.cell(row, name) {
            Cell::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
            _ => None,
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

/// Text made safe for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HIDDEN: &str = "hidden";

fn count_text(v: Option<i64>) -> String {
    v.map_or_else(|| HIDDEN.to_string(), |n| n.to_string())
}

fn share_text(v: Option<f64>) -> String {
    v.map_or_else(|| HIDDEN.to_string(), |x| format!("{:.1} %", x * 100.0))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.path{white-space:nowrap}ul.rows{font-family:monospace;font-size:.85rem;overflow-wrap:anywhere}td.err{overflow-wrap:anywhere;min-width:12rem}tr.failed td{background:#fde8e8}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:bold}dd{margin:0}
.note{color:#555;font-size:.9rem}svg{display:block;margin:.5rem 0 1.5rem}";

/// The whole page.
pub fn render(snapshot: &Path, input: &ReportInput<'_>) -> Result<String, ReportError> {
    let published = snapshot.join("published");
    let overview = Table::read(&published.join("regional_overview.parquet"))?;
    let targets = Table::read(&snapshot.join("target_followup.parquet"))?;
    let projects = Table::read(&snapshot.join("projects.parquet"))?;
    let s = input.summary;

    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // Belt and braces: even a page edited by hand fetches nothing and runs nothing.
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    h.push_str("<title>followup run report</title>\n");
    let _ = writeln!(h, "<style>{STYLE}</style>\n</head>\n<body>");
    h.push_str("<h1>followup run report</h1>\n");

    // Run summary.
    let count = |status: &str| s.files.iter().filter(|f| f.status == status).count();
    let sum = |f: fn(&crate::warehouse::FileLoad) -> i64| s.files.iter().map(f).sum::<i64>();
    h.push_str("<h2>Run</h2>\n<dl>\n");
    let _ = writeln!(
        h,
        "<dt>Load id</dt><dd data-volatile>{}</dd>",
        esc(&s.load_id)
    );
    let _ = writeln!(
        h,
        "<dt>Started</dt><dd data-volatile>{}</dd>",
        esc(&input
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    let _ = writeln!(
        h,
        "<dt>Duration</dt><dd data-volatile>{:.1} s</dd>",
        input.duration_ms as f64 / 1000.0
    );
    let _ = writeln!(h, "<dt>Status</dt><dd>{}</dd>", esc(input.status));
    let _ = writeln!(
        h,
        "<dt>Files</dt><dd>{} loaded, {} unchanged, {} failed</dd>",
        count("loaded"),
        count("unchanged"),
        count("failed")
    );
    let _ = writeln!(
        h,
        "<dt>Rows</dt><dd>{} read = {} loaded + {} rejected + {} skipped</dd>",
        sum(|f| f.rows_read),
        sum(|f| f.rows_loaded),
        sum(|f| f.rows_rejected),
        sum(|f| f.rows_skipped)
    );
    let failed_tests: Vec<String> = s
        .failed_tests
        .iter()
        .map(|(n, sev, rows)| format!("{n} ({sev:?}, {rows} failing rows)"))
        .collect();
    let _ = writeln!(
        h,
        "<dt>Data tests</dt><dd>{} of {} passed{}</dd>",
        s.tests_run.saturating_sub(failed_tests.len()),
        s.tests_run,
        if failed_tests.is_empty() {
            String::new()
        } else {
            format!("; failed: {}", esc(&failed_tests.join(", ")))
        }
    );
    h.push_str("</dl>\n");
    // The first failing rows of each failed test, as the run's summary shows them.
    for (name, _, _) in &s.failed_tests {
        let rows = s.failed_test_rows.get(name).map_or(&[][..], Vec::as_slice);
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<p class=\"note\">{}, first failing rows:</p>\n<ul class=\"rows\">",
            esc(name)
        );
        for r in rows {
            let _ = writeln!(h, "<li>{}</li>", esc(&mask(r)));
        }
        h.push_str("</ul>\n");
    }
    if input.min_cell > 1 {
        let _ = writeln!(
            h,
            "<p class=\"note\">Participant numbers below come from the published marts: counts from 1 to {} \
             are hidden, and so is every cell that would let them be recovered by subtraction \
             (disclosure control, <code>--min-cell {}</code>). Hidden cells read “{HIDDEN}”.</p>",
            input.min_cell - 1,
            input.min_cell
        );
    } else {
        h.push_str(
            "<p class=\"note\">Participant numbers below come from the published marts, run with \
             <code>--min-cell 1</code>: no count is hidden.</p>\n",
        );
    }

    // Projects and their report dates.
    let project_rows = project_totals(projects.as_ref(), overview.as_ref());
    h.push_str("<h2>Projects</h2>\n");
    if project_rows.is_empty() {
        h.push_str("<p>No projects in this snapshot.</p>\n");
    } else {
        h.push_str("<table>\n<tr><th>Project</th><th>Name</th><th>Report date</th><th>Participants</th><th>Share women</th><th>Exited</th></tr>\n");
        for p in &project_rows {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&p.id),
                esc(&p.name),
                esc(p.report_date.as_deref().unwrap_or("")),
                count_text(p.participants),
                share_text(p.share_women),
                count_text(p.exited)
            );
        }
        h.push_str("</table>\n");
    }

    // Charts.
    h.push_str("<h2>Participants per municipality and gender</h2>\n");
    match &overview {
        Some(t) => h.push_str(&municipality_charts(t, &project_rows)),
        None => h.push_str("<p>No published regional_overview mart in this snapshot.</p>\n"),
    }
    h.push_str("<h2>Outcomes per project</h2>\n");
    match &overview {
        Some(t) => h.push_str(&outcome_chart(t)),
        None => h.push_str("<p>No published regional_overview mart in this snapshot.</p>\n"),
    }
    h.push_str("<h2>Targets and actual values</h2>\n");
    match (&targets, &overview) {
        (Some(t), Some(o)) => h.push_str(&target_chart(t, o)),
        _ => h.push_str(
            "<p>No target_followup or published regional_overview mart in this snapshot.</p>\n",
        ),
    }

    // Deliveries: each source's latest export against its project's report date.
    h.push_str("<h2>Deliveries</h2>\n");
    match Table::read(&snapshot.join("source_freshness.parquet"))? {
        Some(d) if d.len() > 0 => {
            h.push_str("<table>\n<tr><th>Project</th><th>Source</th><th>Status</th><th>Latest export</th><th>Days behind (allowed)</th><th>Rows: latest / previous export</th><th>Failed files</th><th>Mapped columns missing</th></tr>\n");
            let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
            for r in 0..d.len() {
                let status = d.text(r, "status").unwrap_or("");
                let _ = writeln!(
                    h,
                    "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{} ({})</td><td class=\"n\">{} / {}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                    if status == "current" && d.text(r, "columns_missing").is_none() {
                    ""
                } else {
                    " class=\"failed\""
                },
                    esc(d.text(r, "project_id").unwrap_or("")),
                    esc(d.text(r, "source_id").unwrap_or("")),
                    esc(status),
                    d.date(r, "latest_export_date").unwrap_or_default(),
                    n(d.int(r, "days_behind")),
                    n(d.int(r, "max_export_age_days")),
                    n(d.int(r, "rows_latest")),
                    n(d.int(r, "rows_previous")),
                    n(d.int(r, "files_failed")),
                    esc(d.text(r, "columns_missing").unwrap_or("")),
                );
            }
            h.push_str("</table>\n");
        }
        _ => h.push_str("<p>No sources.</p>\n"),
    }

    // Files.
    h.push_str("<h2>Files</h2>\n");
    if s.files.is_empty() {
        h.push_str("<p>No files.</p>\n");
    } else {
        h.push_str("<table>\n<tr><th>File</th><th>Status</th><th>Read</th><th>Loaded</th><th>Rejected</th><th>Skipped</th><th>Error</th></tr>\n");
        for f in &s.files {
            let _ = writeln!(
                h,
                "<tr{}><td class=\"path\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"err\">{}</td></tr>",
                if f.status == "failed" { " class=\"failed\"" } else { "" },
                esc(&mask(&f.path)),
                esc(&f.status),
                f.rows_read,
                f.rows_loaded,
                f.rows_rejected,
                f.rows_skipped,
                esc(&mask(f.error.as_deref().unwrap_or("")))
            );
        }
        h.push_str("</table>\n");
    }

    h.push_str("<h2>Rejected rows per rule</h2>\n");
    if s.rejects_by_rule.is_empty() {
        h.push_str("<p>No rejected rows.</p>\n");
    } else {
        h.push_str("<p class=\"note\">A row can break more than one rule.</p>\n<table>\n<tr><th>Rule</th><th>Rows</th></tr>\n");
        for (rule, n) in &s.rejects_by_rule {
            let _ = writeln!(h, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(rule));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

struct ProjectTotal {
    id: String,
    name: String,
    report_date: Option<String>,
    participants: Option<i64>,
    share_women: Option<f64>,
    exited: Option<i64>,
}

/// One line per project: its name and report date from `projects`, its totals from the published
/// overview (project level, gender total).
fn project_totals(projects: Option<&Table>, overview: Option<&Table>) -> Vec<ProjectTotal> {
    let Some(p) = projects else {
        return Vec::new();
    };
    let mut out: Vec<ProjectTotal> = (0..p.len())
        .map(|r| {
            let id = p.text(r, "project_id").unwrap_or("").to_string();
            let total = overview.and_then(|o| project_total_row(o, &id).map(|row| (o, row)));
            ProjectTotal {
                name: p.text(r, "name").unwrap_or("").to_string(),
                report_date: p.date(r, "report_date"),
                participants: total.and_then(|(o, row)| o.int(row, "participants")),
                share_women: total.and_then(|(o, row)| o.float(row, "share_women")),
                exited: total.and_then(|(o, row)| o.int(row, "exited")),
                id,
            }
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn project_total_row(o: &Table, project_id: &str) -> Option<usize> {
    (0..o.len()).find(|&r| {
        o.text(r, "project_id") == Some(project_id)
            && o.text(r, "level") == Some("project")
            && o.text(r, "gender") == Some("total")
    })
}

const WOMEN: &str = "#c0392b";
const MEN: &str = "#2e86c1";
const OUTCOMES: [(&str, &str, &str); 5] = [
    ("exits_work", "work", "#1e8449"),
    ("exits_studies", "studies", "#7d3c98"),
    ("exits_job_seeking", "job seeking", "#d4ac0d"),
    ("exits_other", "other", "#a04000"),
    ("exits_no_outcome", "no outcome recorded", "#909497"),
];

const CHART_W: f64 = 1040.0;
const LABEL_W: f64 = 300.0;
const BAR_W: f64 = 460.0;

/// A chart's row label, right-aligned before the bars: cut to fit the label column, whole in a tooltip.
fn label(h: &mut String, y: f64, text: &str) {
    const MAX: usize = 44;
    let shown: String = if text.chars().count() > MAX {
        let mut t: String = text.chars().take(MAX - 1).collect();
        t.push('…');
        t
    } else {
        text.to_string()
    };
    let _ = writeln!(
        h,
        "<text x=\"{}\" y=\"{y}\" text-anchor=\"end\"><title>{}</title>{}</text>",
        LABEL_W - 8.0,
        esc(text),
        esc(&shown)
    );
}

fn svg_open(h: &mut String, height: f64, label: &str) {
    let _ = write!(
        h,
        "<svg width=\"{CHART_W}\" height=\"{height}\" viewBox=\"0 0 {CHART_W} {height}\" role=\"img\" aria-label=\"{0}\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\n<title>{0}</title>\n",
        esc(label)
    );
}

fn legend(h: &mut String, y: f64, items: &[(&str, &str)]) {
    let mut x = LABEL_W;
    for (name, colour) in items {
        let _ = writeln!(
            h,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            y - 10.0,
            x + 16.0,
            y,
            esc(name)
        );
        x += 36.0 + 8.0 * name.chars().count() as f64;
    }
}

/// Width of a bar for `v` on a scale whose largest value is `max`.
fn bar(v: i64, max: i64) -> f64 {
    if max <= 0 {
        0.0
    } else {
        (v.max(0) as f64 / max as f64 * BAR_W).round()
    }
}

/// One grouped bar chart per project: its sub-projects (municipalities), women and men side by side.
fn municipality_charts(o: &Table, projects: &[ProjectTotal]) -> String {
    let mut h = String::new();
    for p in projects {
        let rows: Vec<usize> = (0..o.len())
            .filter(|&r| {
                o.text(r, "project_id") == Some(p.id.as_str())
                    && o.text(r, "level") == Some("subproject")
                    && o.text(r, "gender") == Some("total")
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let by_gender = |r: usize, gender: &str| -> Option<i64> {
            let sub = o.text(r, "subproject_id");
            (0..o.len())
                .find(|&g| {
                    o.text(g, "project_id") == Some(p.id.as_str())
                        && o.text(g, "level") == Some("subproject")
                        && o.text(g, "subproject_id") == sub
                        && o.text(g, "gender") == Some(gender)
                })
                .and_then(|g| o.int(g, "participants"))
        };
        let data: Vec<(String, Option<i64>, Option<i64>)> = rows
            .iter()
            .map(|&r| {
                let name = o
                    .text(r, "subproject_name")
                    .or(o.text(r, "subproject_id"))
                    .unwrap_or("");
                let label = match o.text(r, "municipality_code") {
                    Some(code) if !code.is_empty() => format!("{name} ({code})"),
                    _ => name.to_string(),
                };
                (label, by_gender(r, "woman"), by_gender(r, "man"))
            })
            .collect();
        let max = data
            .iter()
            .flat_map(|(_, w, m)| [*w, *m])
            .flatten()
            .max()
            .unwrap_or(0);
        let title = format!("{}: participants per sub-project and gender", p.name);
        let row_h = 34.0;
        let height = 44.0 + row_h * data.len() as f64;
        let _ = writeln!(h, "<h3>{}</h3>", esc(&p.name));
        svg_open(&mut h, height, &title);
        legend(&mut h, 16.0, &[("women", WOMEN), ("men", MEN)]);
        for (i, (name, w, m)) in data.iter().enumerate() {
            let y = 30.0 + row_h * i as f64;
            label(&mut h, y + 17.0, name);
            for (j, (v, colour)) in [(w, WOMEN), (m, MEN)].into_iter().enumerate() {
                let by = y + 2.0 + 15.0 * j as f64;
                match v {
                    Some(n) => {
                        let bw = bar(*n, max);
                        let _ = writeln!(
                            h,
                            "<rect x=\"{LABEL_W}\" y=\"{by}\" width=\"{bw}\" height=\"13\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{n}</text>",
                            LABEL_W + bw + 4.0,
                            by + 11.0
                        );
                    }
                    None => {
                        let _ = writeln!(
                            h,
                            "<rect x=\"{LABEL_W}\" y=\"{by}\" width=\"3\" height=\"13\" fill=\"{colour}\" fill-opacity=\"0.4\"/><text x=\"{}\" y=\"{}\" fill=\"#666\">{HIDDEN}</text>",
                            LABEL_W + 7.0,
                            by + 11.0
                        );
                    }
                }
            }
        }
        h.push_str("</svg>\n");
    }
    if h.is_empty() {
        h.push_str("<p>No sub-projects in the published overview.</p>\n");
    }
    h
}

/// Exits by outcome per project (project level, both genders), stacked; hidden parts are left out and
/// counted in the label.
fn outcome_chart(o: &Table) -> String {
    let rows: Vec<usize> = (0..o.len())
        .filter(|&r| o.text(r, "level") == Some("project") && o.text(r, "gender") == Some("total"))
        .collect();
    if rows.is_empty() {
        return "<p>No projects in the published overview.</p>\n".into();
    }
    let parts = |r: usize| -> Vec<Option<i64>> {
        OUTCOMES.iter().map(|(col, _, _)| o.int(r, col)).collect()
    };
    let max = rows
        .iter()
        .map(|&r| {
            let visible: i64 = parts(r).into_iter().flatten().sum();
            visible.max(o.int(r, "exited").unwrap_or(0))
        })
        .max()
        .unwrap_or(0);
    let row_h = 28.0;
    let height = 44.0 + row_h * rows.len() as f64;
    let mut h = String::new();
    svg_open(&mut h, height, "Exits by outcome per project");
    let items: Vec<(&str, &str)> = OUTCOMES.iter().map(|(_, n, c)| (*n, *c)).collect();
    legend(&mut h, 16.0, &items);
    for (i, &r) in rows.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let name = o
            .text(r, "project_name")
            .or(o.text(r, "project_id"))
            .unwrap_or("");
        label(&mut h, y + 14.0, name);
        let mut x = LABEL_W;
        let mut hidden = 0;
        for (v, (_, label, colour)) in parts(r).into_iter().zip(OUTCOMES) {
            match v {
                Some(n) => {
                    let w = bar(n, max);
                    if w > 0.0 {
                        let _ = writeln!(
                            h,
                            "<rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"18\" fill=\"{colour}\"><title>{}: {n}</title></rect>",
                            y + 1.0,
                            esc(label)
                        );
                    }
                    x += w;
                }
                None => hidden += 1,
            }
        }
        let mut text = format!("exited {}", count_text(o.int(r, "exited")));
        if hidden > 0 {
            let _ = write!(text, "; {hidden} outcome(s) hidden");
        }
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x + 6.0,
            y + 14.0,
            esc(&text)
        );
    }
    h.push_str("</svg>\n");
    h
}

/// A target's actual value recomputed from published cells only (project level, gender total), or None
/// when a cell it needs is hidden.
fn published_actual(o: &Table, project_id: &str, metric: &str, outcomes: &str) -> Option<f64> {
    let r = project_total_row(o, project_id)?;
    let exits_to = || -> Option<i64> {
        let mut sum = 0;
        for outcome in outcomes.split(',').filter(|s| !s.is_empty()) {
            sum += o.int(r, &format!("exits_{outcome}"))?;
        }
        Some(sum)
    };
    match metric {
        "participants" => o.int(r, "participants").map(|v| v as f64),
        "share_women" => o.float(r, "share_women"),
        "exits_to" => exits_to().map(|v| v as f64),
        "share_exits_to" => {
            let exited = o.int(r, "exited")?;
            (exited > 0).then_some(exits_to()? as f64 / exited as f64)
        }
        _ => None,
    }
}

fn status_colour(status: &str) -> &'static str {
    match status {
        "met" => "#1e8449",
        "on_track" => "#58d68d",
        "behind" => "#f5b041",
        "not_met" => "#c0392b",
        _ => "#909497",
    }
}

/// Every target: the actual value as a share of the target value, with the target line at 100 %.
fn target_chart(t: &Table, o: &Table) -> String {
    if t.len() == 0 {
        return "<p>No targets in the pipelines.</p>\n".into();
    }
    let is_share = |metric: &str| metric.starts_with("share_");
    let fmt = |metric: &str, v: f64| {
        if is_share(metric) {
            format!("{:.1} %", v * 100.0)
        } else {
            format!("{v:.0}")
        }
    };
    // 100 % of a target sits at 2/3 of the bar area, so over-achievement up to 150 % shows.
    let full = BAR_W * 2.0 / 3.0;
    let row_h = 40.0;
    let height = 50.0 + row_h * t.len() as f64;
    let mut h = String::new();
    svg_open(&mut h, height, "Targets and actual values");
    legend(
        &mut h,
        16.0,
        &[
            ("met", status_colour("met")),
            ("on track", status_colour("on_track")),
            ("behind", status_colour("behind")),
            ("not met", status_colour("not_met")),
        ],
    );
    let line_x = LABEL_W + full;
    let _ = writeln!(
        h,
        "<line x1=\"{line_x}\" y1=\"24\" x2=\"{line_x}\" y2=\"{}\" stroke=\"#222\" stroke-dasharray=\"4 3\"/><text x=\"{line_x}\" y=\"{}\" text-anchor=\"middle\" fill=\"#222\">target</text>",
        height - 14.0,
        height - 2.0
    );
    let mut rows_html = String::new();
    for r in 0..t.len() {
        let project = t.text(r, "project_id").unwrap_or("");
        let metric = t.text(r, "metric").unwrap_or("");
        let name = t.text(r, "name").unwrap_or("");
        let target = t.float(r, "target_value");
        let actual = published_actual(o, project, metric, t.text(r, "outcomes").unwrap_or(""));
        // The status is a verdict on the unsuppressed actual value: with the value hidden it would tell
        // on which side of the target a hidden count lies, so it is hidden too.
        let status = match (t.text(r, "status").unwrap_or("no_data"), actual) {
            (s, Some(_)) | (s @ "no_data", None) => s,
            (_, None) => HIDDEN,
        };
        let y = 30.0 + row_h * r as f64;
        label(&mut h, y + 13.0, name);
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#666\" font-size=\"10\">{}</text>",
            LABEL_W - 8.0,
            y + 26.0,
            esc(project)
        );
        let text = match (actual, target) {
            (Some(a), Some(tv)) => {
                let ratio = if tv > 0.0 { a / tv } else { 0.0 };
                let w = (ratio.clamp(0.0, 1.5) * full).round();
                let _ = writeln!(
                    h,
                    "<rect x=\"{LABEL_W}\" y=\"{}\" width=\"{w}\" height=\"20\" fill=\"{}\"/>",
                    y + 2.0,
                    status_colour(status)
                );
                format!(
                    "{} of {} ({:.0} %), {}",
                    fmt(metric, a),
                    fmt(metric, tv),
                    ratio * 100.0,
                    status.replace('_', " ")
                )
            }
            (None, Some(tv)) => format!(
                "actual {HIDDEN} of {}, {}",
                fmt(metric, tv),
                status.replace('_', " ")
            ),
            _ => format!("no target value, {}", status.replace('_', " ")),
        };
        let _ = writeln!(
            h,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            LABEL_W + BAR_W + 10.0,
            y + 16.0,
            esc(&text)
        );
        let _ = writeln!(
            rows_html,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(project),
            esc(name),
            esc(metric),
            esc(t.text(r, "op").unwrap_or("")),
            target.map_or_else(String::new, |v| fmt(metric, v)),
            actual.map_or_else(|| HIDDEN.to_string(), |v| fmt(metric, v)),
            esc(status)
        );
    }
    h.push_str("</svg>\n");
    h.push_str("<table>\n<tr><th>Project</th><th>Target</th><th>Metric</th><th>Target value</th><th>Actual</th><th>Status</th></tr>\n");
    h.push_str(&rows_html);
    h.push_str("</table>\n<p class=\"note\">Actual values are recomputed from the published overview (project, both genders); where a cell they need is hidden, so are the actual value and the status.</p>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::FileLoad;

    #[test]
    fn file_names_and_errors_are_escaped_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        // A synthetic identity number, built here so no personnummer-shaped literal sits in the source.
        let (date, serial) = (format!("{}{:02}{:02}", 1990, 5, 20), format!("{:04}", 2442));
        let summary = RunSummary {
            load_id: "L1".into(),
            files: vec![FileLoad {
                project_id: "p".into(),
                path: "p/<a>&.xlsx".into(),
                status: "failed".into(),
                error: Some(format!(
                    "cell B2 holds \"{date}-{serial}\" <script>alert(1)</script>"
                )),
                ..Default::default()
            }],
            failed_tests: vec![("sources_current".into(), crate::models::Severity::Warn, 1)],
            failed_test_rows: [(
                "sources_current".to_string(),
                vec![format!("source_id=<b>x</b> raw_value={date}-{serial}")],
            )]
            .into(),
            ..Default::default()
        };
        let input = ReportInput {
            summary: &summary,
            started_at: DateTime::<Utc>::default(),
            duration_ms: 0,
            status: "published_with_errors",
            min_cell: 5,
        };
        // An empty snapshot folder: no marts, the sections say so.
        let html = render(dir.path(), &input).unwrap();
        assert!(html.contains("<td class=\"path\">p/&lt;a&gt;&amp;.xlsx</td>"));
        assert!(!html.contains("<script"));
        assert!(html.contains(&format!("&quot;{date}-****&quot; &lt;script&gt;")));
        assert!(!html.contains(&serial));
        // A failed data test's rows: escaped, and masked even though warehouse rows hold no numbers.
        assert!(html.contains(&format!(
            "<li>source_id=&lt;b&gt;x&lt;/b&gt; raw_value={date}-****</li>"
        )));
        assert!(html.contains("No published regional_overview mart in this snapshot."));
    }
}
