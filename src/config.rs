//! Pipeline files: one TOML per ESF project (metadata, targets, sub-projects, sources and their mappings).
//! This module only parses and checks configuration; it never touches input data. Unknown keys are errors
//! (serde `deny_unknown_fields`), reported with the file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::domain::{self, CanonicalField};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no pipeline files (*.toml) found in {0}")]
    NoPipelines(PathBuf),
}

/// A TOML date (`2020-02-01`) deserialised into a chrono date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = toml::value::Datetime::deserialize(d)?;
        match (v.date, v.time) {
            (Some(date), None) => NaiveDate::from_ymd_opt(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            )
            .map(Date)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid date {v}"))),
            _ => Err(serde::de::Error::custom(format!(
                "expected a date such as 2020-02-01, found {v}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub project: Project,
    #[serde(default)]
    pub validation: Validation,
    #[serde(default)]
    pub targets: Vec<Target>,
    pub subprojects: Vec<Subproject>,
    /// Value maps shared by every source of this pipeline: field -> (source spelling -> canonical value).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Programme {
    /// ESF 2014–2020 (Reg. (EU) 1304/2013): CO/CR indicators.
    #[serde(rename = "esf_2014_2020")]
    Esf2014_2020,
    /// ESF+ 2021–2027 (Reg. (EU) 2021/1057): EECO/EECR indicators.
    #[serde(rename = "esf_plus_2021_2027")]
    EsfPlus2021_2027,
}

impl Programme {
    pub fn as_str(self) -> &'static str {
        match self {
            Programme::Esf2014_2020 => "esf_2014_2020",
            Programme::EsfPlus2021_2027 => "esf_plus_2021_2027",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Stable snake_case id used in every table (`project_id`).
    pub id: String,
    pub name: String,
    /// ESF-rådet case number (ärendenummer / diarienummer), when the seed gives one.
    pub case_number: Option<String>,
    pub owner: String,
    /// ESF region, e.g. "Mellersta Norrland".
    pub region: Option<String>,
    /// Two-digit county code (länskod) of the project's municipalities.
    pub county_code: Option<String>,
    pub programme: Programme,
    pub period_start: Date,
    pub period_end: Date,
    pub budget_sek: Option<i64>,
    pub esf_grant_sek: Option<i64>,
    /// EU co-financing rate as a fraction (0.5 = 50 %).
    pub cofinancing_rate: Option<f64>,
    pub planned_participants: Option<i64>,
    /// Date at which marts measure "active" and "exited". Overridden by `run --report-date`; when neither is
    /// given, the latest export date among the project's loaded files is used (stable across re-runs).
    pub report_date: Option<Date>,
    /// Folder of the municipalities' files, relative to this pipeline file.
    pub input_dir: String,
    /// Assumptions made where the project description is silent (kept in the `projects` table).
    #[serde(default)]
    pub assumptions: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Inclusive age range at start; rows outside are rejected (`age_out_of_range`).
    #[serde(default = "default_age_range")]
    pub age_range: [i64; 2],
    /// Reject enrolments whose start or end date lies outside the project period.
    #[serde(default = "default_true")]
    pub check_project_period: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            age_range: default_age_range(),
            check_project_period: true,
        }
    }
}

fn default_age_range() -> [i64; 2] {
    [15, 67]
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetMetric {
    /// Unique individuals enrolled (ESF counting).
    Participants,
    /// Share of unique individuals who are women (0–1).
    ShareWomen,
    /// Unique individuals whose last exit had one of `outcomes`.
    ExitsTo,
    /// `ExitsTo` divided by exited individuals (0–1).
    ShareExitsTo,
}

impl TargetMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetMetric::Participants => "participants",
            TargetMetric::ShareWomen => "share_women",
            TargetMetric::ExitsTo => "exits_to",
            TargetMetric::ShareExitsTo => "share_exits_to",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub name: String,
    pub metric: TargetMetric,
    /// `>=` or `<=`.
    #[serde(default = "default_op")]
    pub op: String,
    pub value: f64,
    /// For `exits_to` / `share_exits_to`: the exit outcomes that count.
    #[serde(default)]
    pub outcomes: Vec<String>,
    /// The sentence of the project description the target comes from.
    pub source_text: Option<String>,
}

fn default_op() -> String {
    ">=".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subproject {
    pub id: String,
    pub name: String,
    /// Official four-digit kommunkod (text; leading zeros matter).
    pub municipality_code: String,
    /// Optional track within the project (e.g. referral route).
    pub track: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    #[default]
    Enrolments,
    Activities,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    #[default]
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    /// What Swedish Excel writes; ISO-8859-1 agrees with it on å, ä, ö.
    #[serde(
        rename = "windows-1252",
        alias = "windows1252",
        alias = "cp1252",
        alias = "latin1",
        alias = "iso-8859-1"
    )]
    Windows1252,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SheetSel {
    Name(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum HeaderRowSel {
    /// 1-based row number (Excel row, or CSV record number).
    Row(u32),
    /// "auto": the first row among the first 50 that holds the mapped required headers.
    Auto(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "from", rename_all = "snake_case")]
pub enum ExportDate {
    /// A date in the file name: `YYYY-MM-DD`, `YYYYMMDD`, or `YYYY-MM` / `YYYYMM` (last day of that month).
    Filename,
    /// A cell of the sheet in A1 notation (Excel files only), holding a date or a date text.
    Cell { cell: String },
    /// The file's modification time (least reliable; re-copied files change it).
    Mtime,
    /// A fixed date.
    Fixed { date: Date },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A short id for logs and lineage; defaults to the first glob.
    pub id: Option<String>,
    #[serde(default)]
    pub kind: SourceKind,
    /// Sub-project all rows belong to. Leave out when a `subproject` or `municipality_code` column says it.
    pub subproject: Option<String>,
    /// Globs relative to the project's `input_dir`.
    pub files: Vec<String>,
    pub sheet: Option<SheetSel>,
    pub header_row: Option<HeaderRowSel>,
    #[serde(default)]
    pub encoding: Encoding,
    /// `;`, `,`, `\t` or "auto" (default; chosen from the header line).
    pub delimiter: Option<String>,
    #[serde(default)]
    pub decimal_comma: bool,
    /// Accepted text date formats (chrono strftime), tried in order. Excel date cells and serials in date
    /// columns are always accepted.
    #[serde(default = "default_date_formats")]
    pub date_formats: Vec<String>,
    pub export_date: Option<ExportDate>,
    /// Canonical field -> header text in the file.
    pub columns: BTreeMap<String, String>,
    /// Per-source value maps, merged over the pipeline's `values`.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// How many days the latest export may lie before the project's report date before the source counts
    /// as stale in `source_freshness` (default 45: a monthly export, with two weeks' grace).
    pub max_export_age_days: Option<u32>,
    /// The share of a file's data rows (read minus skipped) that may be rejected before the data test
    /// `file_reject_share` warns (default 0.2): a new date format or a renamed code list rejects most rows.
    pub max_reject_share: Option<f64>,
}

/// Days an export may lie before the report date by default (`Source::max_export_age_days`).
pub const DEFAULT_MAX_EXPORT_AGE_DAYS: u32 = 45;
/// The share of a file's data rows that may be rejected by default (`Source::max_reject_share`).
pub const DEFAULT_MAX_REJECT_SHARE: f64 = 0.2;

impl Source {
    /// The source's id: its `id`, else its first glob, else `source<i>` for the i-th source.
    pub fn source_id(&self, i: usize) -> String {
        self.id.clone().unwrap_or_else(|| {
            self.files
                .first()
                .cloned()
                .unwrap_or_else(|| format!("source{i}"))
        })
    }
}

pub fn default_date_formats() -> Vec<String> {
    vec![
        "%Y-%m-%d".into(),
        "%Y-%m-%d %H:%M:%S".into(),
        "%Y%m%d".into(),
    ]
}

/// A pipeline file with the place it was read from.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub path: PathBuf,
    pub file: PipelineFile,
}

impl Pipeline {
    pub fn project_id(&self) -> &str {
        &self.file.project.id
    }

    /// The folder that the source globs are relative to.
    pub fn input_dir(&self) -> PathBuf {
        let base = self.path.parent().unwrap_or(Path::new("."));
        base.join(&self.file.project.input_dir)
    }

    pub fn subproject(&self, id: &str) -> Option<&Subproject> {
        self.file.subprojects.iter().find(|s| s.id == id)
    }
}

/// Parse one pipeline file and check it. Returns every problem found, not just the first.
pub fn load_pipeline(path: &Path) -> Result<Pipeline, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        vec![ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }]
    })?;
    let file: PipelineFile = toml::from_str(&text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((0, 0));
        vec![ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }]
    })?;
    let pipeline = Pipeline {
        path: path.to_path_buf(),
        file,
    };
    let problems = check(&pipeline);
    if problems.is_empty() {
        Ok(pipeline)
    } else {
        Err(problems
            .into_iter()
            .map(|message| ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            })
            .collect())
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// Load every `*.toml` in a folder, sorted by file name. Collects all problems of all files.
pub fn load_dir(dir: &Path) -> Result<Vec<Pipeline>, Vec<ConfigError>> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        vec![ConfigError::Io {
            path: dir.to_path_buf(),
            source,
        }]
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(vec![ConfigError::NoPipelines(dir.to_path_buf())]);
    }
    let mut pipelines = Vec::new();
    let mut problems = Vec::new();
    for p in &paths {
        match load_pipeline(p) {
            Ok(pl) => pipelines.push(pl),
            Err(mut e) => problems.append(&mut e),
        }
    }
    let mut seen = BTreeMap::new();
    for pl in &pipelines {
        if let Some(other) = seen.insert(pl.project_id().to_string(), pl.path.clone()) {
            problems.push(ConfigError::Invalid {
                path: pl.path.clone(),
                message: format!(
                    "project id `{}` is also used by {}",
                    pl.project_id(),
                    other.display()
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(pipelines)
    } else {
        Err(problems)
    }
}

fn is_snake_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Semantic checks that serde cannot express. Each problem is one sentence naming where it is.
fn check(p: &Pipeline) -> Vec<String> {
    let f = &p.file;
    let mut out = Vec::new();
    let pr = &f.project;
    if !is_snake_id(&pr.id) {
        out.push(format!(
            "project.id `{}`: expected lower-case letters, digits and _",
            pr.id
        ));
    }
    if pr.period_end < pr.period_start {
        out.push(format!(
            "project: period_end {} is before period_start {}",
            pr.period_end.0, pr.period_start.0
        ));
    }
    if let Some(c) = &pr.county_code {
        if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_digit()) {
            out.push(format!(
                "project.county_code `{c}`: expected two digits, e.g. \"21\""
            ));
        }
    }
    if let Some(r) = pr.cofinancing_rate {
        if !(0.0..=1.0).contains(&r) {
            out.push(format!(
                "project.cofinancing_rate {r}: expected a fraction between 0 and 1 (0.5 = 50 %)"
            ));
        }
    }
    let [lo, hi] = f.validation.age_range;
    if lo > hi {
        out.push(format!(
            "validation.age_range [{lo}, {hi}]: lower bound above upper"
        ));
    }
    let mut ids = std::collections::BTreeSet::new();
    for t in &f.targets {
        if !ids.insert(&t.id) {
            out.push(format!("targets: id `{}` is used twice", t.id));
        }
        if t.op != ">=" && t.op != "<=" {
            out.push(format!(
                "targets.{}: op `{}`: expected \">=\" or \"<=\"",
                t.id, t.op
            ));
        }
        let needs_outcomes = matches!(t.metric, TargetMetric::ExitsTo | TargetMetric::ShareExitsTo);
        if needs_outcomes && t.outcomes.is_empty() {
            out.push(format!(
                "targets.{}: metric {} needs `outcomes`, e.g. [\"work\", \"studies\"]",
                t.id,
                t.metric.as_str()
            ));
        }
        for o in &t.outcomes {
            if !domain::EXIT_OUTCOMES.contains(&o.as_str()) {
                out.push(format!(
                    "targets.{}: outcome `{o}`: expected one of {}",
                    t.id,
                    domain::EXIT_OUTCOMES.join(", ")
                ));
            }
        }
    }
    if f.subprojects.is_empty() {
        out.push("subprojects: at least one sub-project is needed".into());
    }
    let mut sp_ids = std::collections::BTreeSet::new();
    for s in &f.subprojects {
        if !is_snake_id(&s.id) {
            out.push(format!(
                "subprojects.{}: id: expected lower-case letters, digits and _",
                s.id
            ));
        }
        if !sp_ids.insert(s.id.as_str()) {
            out.push(format!("subprojects: id `{}` is used twice", s.id));
        }
        if domain::normalise_kommunkod(&s.municipality_code).as_deref()
            != Some(s.municipality_code.as_str())
        {
            out.push(format!(
                "subprojects.{}: municipality_code `{}`: expected a four-digit kommunkod such as \"2180\"",
                s.id, s.municipality_code
            ));
        } else if let Some(county) = &pr.county_code {
            if !s.municipality_code.starts_with(county.as_str()) {
                out.push(format!(
                    "subprojects.{}: municipality_code {} is not in county {county}",
                    s.id, s.municipality_code
                ));
            }
        }
    }
    check_value_maps("values", &f.values, &mut out);
    let mut source_ids = std::collections::BTreeSet::new();
    for (i, s) in f.sources.iter().enumerate() {
        let name = format!("sources[{i}]");
        let id = s.source_id(i);
        if !source_ids.insert(id.clone()) {
            out.push(format!(
                "{name}: id `{id}` is used by an earlier source too (without `id`, a source is named by \
                 its first glob): give each source its own id, which names it in file_loads and \
                 source_freshness"
            ));
        }
        if s.files.is_empty() {
            out.push(format!("{name}: files: at least one glob is needed"));
        }
        for g in &s.files {
            if let Err(e) = globset::Glob::new(g) {
                out.push(format!("{name}: files: bad glob `{g}`: {e}"));
            }
        }
        if let Some(sp) = &s.subproject {
            if !sp_ids.contains(sp.as_str()) {
                out.push(format!(
                    "{name}: subproject `{sp}` is not among [[subprojects]]"
                ));
            }
        } else if !s.columns.contains_key("subproject")
            && !s.columns.contains_key("municipality_code")
        {
            out.push(format!(
                "{name}: needs `subproject = \"…\"`, or a `subproject` or `municipality_code` column"
            ));
        }
        if let Some(HeaderRowSel::Auto(a)) = &s.header_row {
            if a != "auto" {
                out.push(format!(
                    "{name}: header_row `{a}`: expected a row number or \"auto\""
                ));
            }
        }
        if let Some(r) = s.max_reject_share {
            if !(0.0..=1.0).contains(&r) {
                out.push(format!(
                    "{name}: max_reject_share {r}: expected a fraction between 0 and 1 (0.2 = 20 %)"
                ));
            }
        }
        if let Some(HeaderRowSel::Row(0)) = &s.header_row {
            out.push(format!("{name}: header_row 0: rows are numbered from 1"));
        }
        if let Some(d) = &s.delimiter {
            if !matches!(d.as_str(), ";" | "," | "\t" | "|" | "auto") {
                out.push(format!(
                    "{name}: delimiter `{d}`: expected \";\", \",\", \"\\t\", \"|\" or \"auto\""
                ));
            }
        }
        for fmt in &s.date_formats {
            if chrono::format::StrftimeItems::new(fmt)
                .any(|it| matches!(it, chrono::format::Item::Error))
            {
                out.push(format!(
                    "{name}: date_formats: `{fmt}` is not a valid strftime format"
                ));
            }
        }
        let allowed = domain::fields_for(s.kind);
        for field in s.columns.keys() {
            match CanonicalField::parse(field) {
                Some(cf) if allowed.contains(&cf) => {}
                _ => out.push(format!(
                    "{name}: columns: unknown canonical field `{field}`; expected one of {}",
                    allowed
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        }
        for req in domain::required_fields(s.kind) {
            if !s.columns.contains_key(req.as_str()) {
                out.push(format!(
                    "{name}: columns: required field `{}` is not mapped",
                    req.as_str()
                ));
            }
        }
        check_value_maps(&format!("{name}.values"), &s.values, &mut out);
        if let Some(ExportDate::Cell { cell }) = &s.export_date {
            if crate::ingest::parse_a1(cell).is_none() {
                out.push(format!(
                    "{name}: export_date.cell `{cell}`: expected A1 notation such as \"B2\""
                ));
            }
        }
    }
    // Value maps that name sub-projects must point at real ones.
    for (ctx, maps) in std::iter::once(("values".to_string(), &f.values)).chain(
        f.sources
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("sources[{i}].values"), &s.values)),
    ) {
        if let Some(m) = maps.get("subproject") {
            for (k, v) in m {
                if !sp_ids.contains(v.as_str()) {
                    out.push(format!(
                        "{ctx}.subproject: \"{k}\" maps to `{v}`, which is not among [[subprojects]]"
                    ));
                }
            }
        }
    }
    out
}

fn check_value_maps(
    ctx: &str,
    maps: &BTreeMap<String, BTreeMap<String, String>>,
    out: &mut Vec<String>,
) {
    for (field, map) in maps {
        if field == "subproject" {
            continue;
        }
        let Some(allowed) = domain::allowed_values(field) else {
            out.push(format!(
                "{ctx}: `{field}` has no value map; fields with value maps are {}",
                domain::VALUE_MAPPED_FIELDS.join(", ")
            ));
            continue;
        };
        for (k, v) in map {
            if !allowed.contains(&v.as_str()) {
                out.push(format!(
                    "{ctx}.{field}: \"{k}\" maps to `{v}`; expected one of {}",
                    allowed.join(", ")
                ));
            }
        }
    }
}
