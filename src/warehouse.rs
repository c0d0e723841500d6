//! The warehouse on disk: explicit Arrow schemas for the canonical tables, zstd Parquet writers, and the
//! snapshot layout (`snapshots/<load_id>/<table>.parquet`, `current` → the last published snapshot).
//! Knows nothing of Swedish rules; it stores what the normaliser produced.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::config::Pipeline;
use crate::normalise::{Activity, Enrolment, Reject};

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Parquet {
        path: PathBuf,
        source: datafusion::parquet::errors::ParquetError,
    },
    #[error("building table {table}: {source}")]
    Arrow {
        table: &'static str,
        source: datafusion::arrow::error::ArrowError,
    },
}

pub type Result<T> = std::result::Result<T, WarehouseError>;

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + '_ {
    move |source| WarehouseError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// zstd level 1: at the warehouse's data (hex pseudonyms, codes, dates) it wrote both faster (a quarter
/// less time to copy a model) and smaller than level 3.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(256 * 1024))
        .set_created_by("followup".to_string())
        .build()
}

/// One Parquet file being written batch by batch; memory stays at one batch.
pub struct ParquetSink {
    path: PathBuf,
    writer: ArrowWriter<File>,
    pub rows: u64,
}

impl ParquetSink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Self> {
        let file = File::create(path).map_err(io_err(path))?;
        let writer =
            ArrowWriter::try_new(file, schema, Some(writer_properties())).map_err(|source| {
                WarehouseError::Parquet {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            writer,
            rows: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer
            .write(batch)
            .map_err(|source| WarehouseError::Parquet {
                path: self.path.clone(),
                source,
            })
    }

    pub fn finish(self) -> Result<u64> {
        let path = self.path;
        self.writer
            .close()
            .map_err(|source| WarehouseError::Parquet { path, source })?;
        Ok(self.rows)
    }
}

pub fn write_table(path: &Path, batch: &RecordBatch) -> Result<()> {
    let mut sink = ParquetSink::create(path, batch.schema())?;
    sink.write(batch)?;
    sink.finish().map(|_| ())
}

fn f(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}
fn utf8(name: &str) -> Field {
    f(name, DataType::Utf8, true)
}
fn utf8_nn(name: &str) -> Field {
    f(name, DataType::Utf8, false)
}
fn date(name: &str) -> Field {
    f(name, DataType::Date32, true)
}
fn int(name: &str) -> Field {
    f(name, DataType::Int64, true)
}
fn ts(name: &str) -> Field {
    f(
        name,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    )
}

fn lineage_fields() -> Vec<Field> {
    vec![
        date("export_date"),
        utf8_nn("source_file"),
        utf8("source_sheet"),
        int("source_row"),
        utf8_nn("load_id"),
    ]
}

pub fn enrolment_rows_schema() -> SchemaRef {
    let mut fields = vec![
        utf8_nn("project_id"),
        utf8_nn("subproject_id"),
        utf8_nn("municipality_code"),
        utf8_nn("county_code"),
        utf8_nn("participant_id"),
        utf8_nn("id_kind"),
        utf8_nn("gender"),
        f("gender_mismatch", DataType::Boolean, false),
        int("birth_year"),
        int("age_at_start"),
        f("start_date", DataType::Date32, false),
        date("end_date"),
        utf8("exit_outcome"),
        utf8("exit_reason_raw"),
        f("subsidised_employment", DataType::Boolean, true),
        f("qualification_gained", DataType::Boolean, true),
        utf8("referral_source"),
        utf8("education_level"),
        utf8("labour_status_at_entry"),
        f("long_term_unemployed", DataType::Boolean, true),
        utf8("foreign_born"),
        utf8("third_country_national"),
        utf8("disability"),
        f("hours", DataType::Float64, true),
        utf8("activity_type"),
    ];
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
}

pub fn activity_rows_schema() -> SchemaRef {
    let mut fields = vec![
        utf8_nn("project_id"),
        utf8_nn("subproject_id"),
        utf8_nn("municipality_code"),
        utf8_nn("participant_id"),
        utf8_nn("activity_type"),
        utf8("activity_raw"),
        utf8("provider"),
        f("start_date", DataType::Date32, false),
        date("end_date"),
        f("hours", DataType::Float64, true),
    ];
    fields.extend(lineage_fields());
    Arc::new(Schema::new(fields))
}

pub fn rejects_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8_nn("project_id"),
        utf8_nn("source_file"),
        utf8("source_sheet"),
        int("source_row"),
        utf8_nn("rule"),
        utf8("column"),
        utf8_nn("message"),
        utf8("raw_value"),
        utf8_nn("load_id"),
    ]))
}

pub fn file_loads_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8_nn("load_id"),
        utf8_nn("project_id"),
        utf8("source_id"),
        utf8_nn("path"),
        utf8("sha256"),
        int("bytes"),
        utf8("format"),
        utf8("sheet"),
        utf8("encoding"),
        int("header_row"),
        date("export_date"),
        int("rows_read"),
        int("rows_loaded"),
        int("rows_rejected"),
        int("rows_skipped"),
        utf8_nn("status"),
        utf8("error"),
        utf8("warnings"),
        utf8("cache_key"),
        utf8("columns_missing"),
    ]))
}

pub fn runs_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8_nn("load_id"),
        ts("started_at"),
        ts("finished_at"),
        f("duration_ms", DataType::Int64, true),
        utf8_nn("status"),
        int("files"),
        int("files_loaded"),
        int("files_unchanged"),
        int("files_failed"),
        int("rows_read"),
        int("rows_loaded"),
        int("rows_rejected"),
        int("rows_skipped"),
        utf8("key_fingerprint"),
        utf8("key_source"),
        utf8("followup_version"),
    ]))
}

fn days(d: NaiveDate) -> i32 {
    // Days since 1970-01-01 (Arrow Date32).
    (d - NaiveDate::default()).num_days() as i32
}

fn strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(it))
}
fn dates(it: impl Iterator<Item = Option<NaiveDate>>) -> ArrayRef {
    Arc::new(Date32Array::from_iter(it.map(|d| d.map(days))))
}
fn ints(it: impl Iterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(it))
}
fn bools(it: impl Iterator<Item = Option<bool>>) -> ArrayRef {
    Arc::new(BooleanArray::from_iter(it))
}
fn floats(it: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(it))
}

fn batch(table: &'static str, schema: SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(schema, cols).map_err(|source| WarehouseError::Arrow { table, source })
}

macro_rules! lineage_cols {
    ($rows:expr, $load_id:expr) => {
        vec![
            dates($rows.iter().map(|r| Some(r.lineage.export_date))),
            strs($rows.iter().map(|r| Some(r.lineage.source_file.as_ref()))),
            strs($rows.iter().map(|r| r.lineage.source_sheet.as_deref())),
            ints($rows.iter().map(|r| Some(r.lineage.source_row as i64))),
            strs($rows.iter().map(|_| Some($load_id))),
        ]
    };
}

pub fn enrolment_batch(rows: &[Enrolment], load_id: &str) -> Result<RecordBatch> {
    let mut cols = vec![
        strs(rows.iter().map(|r| Some(r.project_id.as_ref()))),
        strs(rows.iter().map(|r| Some(r.subproject_id.as_ref()))),
        strs(rows.iter().map(|r| Some(r.municipality_code.as_ref()))),
        strs(rows.iter().map(|r| Some(r.county_code.as_ref()))),
        strs(rows.iter().map(|r| Some(r.participant_id.as_str()))),
        strs(rows.iter().map(|r| Some(r.id_kind))),
        strs(rows.iter().map(|r| Some(r.gender))),
        bools(rows.iter().map(|r| Some(r.gender_mismatch))),
        ints(rows.iter().map(|r| Some(i64::from(r.birth_year)))),
        ints(rows.iter().map(|r| Some(r.age_at_start))),
        dates(rows.iter().map(|r| Some(r.start_date))),
        dates(rows.iter().map(|r| r.end_date)),
        strs(rows.iter().map(|r| r.exit_outcome)),
        strs(rows.iter().map(|r| r.exit_reason_raw.as_deref())),
        bools(rows.iter().map(|r| r.subsidised_employment)),
        bools(rows.iter().map(|r| r.qualification_gained)),
        strs(rows.iter().map(|r| r.referral_source)),
        strs(rows.iter().map(|r| r.education_level)),
        strs(rows.iter().map(|r| r.labour_status_at_entry)),
        bools(rows.iter().map(|r| r.long_term_unemployed)),
        strs(rows.iter().map(|r| r.foreign_born)),
        strs(rows.iter().map(|r| r.third_country_national)),
        strs(rows.iter().map(|r| r.disability)),
        floats(rows.iter().map(|r| r.hours)),
        strs(rows.iter().map(|r| r.activity_type)),
    ];
    cols.extend(lineage_cols!(rows, load_id));
    batch("enrolment_rows", enrolment_rows_schema(), cols)
}

pub fn activity_batch(rows: &[Activity], load_id: &str) -> Result<RecordBatch> {
    let mut cols = vec![
        strs(rows.iter().map(|r| Some(r.project_id.as_ref()))),
        strs(rows.iter().map(|r| Some(r.subproject_id.as_ref()))),
        strs(rows.iter().map(|r| Some(r.municipality_code.as_ref()))),
        strs(rows.iter().map(|r| Some(r.participant_id.as_str()))),
        strs(rows.iter().map(|r| Some(r.activity_type))),
        strs(rows.iter().map(|r| Some(r.activity_raw.as_str()))),
        strs(rows.iter().map(|r| r.provider.as_deref())),
        dates(rows.iter().map(|r| Some(r.start_date))),
        dates(rows.iter().map(|r| r.end_date)),
        floats(rows.iter().map(|r| r.hours)),
    ];
    cols.extend(lineage_cols!(rows, load_id));
    batch("activity_rows", activity_rows_schema(), cols)
}

/// A reject with the place it came from.
#[derive(Debug, Clone)]
pub struct RejectRow {
    pub project_id: String,
    pub source_file: String,
    pub source_sheet: Option<String>,
    pub source_row: Option<u64>,
    pub reject: Reject,
}

pub fn reject_batch(rows: &[RejectRow], load_id: &str) -> Result<RecordBatch> {
    let cols = vec![
        strs(rows.iter().map(|r| Some(r.project_id.as_ref()))),
        strs(rows.iter().map(|r| Some(r.source_file.as_str()))),
        strs(rows.iter().map(|r| r.source_sheet.as_deref())),
        ints(rows.iter().map(|r| r.source_row.map(|n| n as i64))),
        strs(rows.iter().map(|r| Some(r.reject.rule))),
        strs(rows.iter().map(|r| r.reject.column.as_deref())),
        strs(rows.iter().map(|r| Some(r.reject.message.as_str()))),
        strs(rows.iter().map(|r| r.reject.raw_value.as_deref())),
        strs(rows.iter().map(|_| Some(load_id))),
    ];
    batch("rejects", rejects_schema(), cols)
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FileLoad {
    pub load_id: String,
    pub project_id: String,
    pub source_id: Option<String>,
    pub path: String,
    pub sha256: Option<String>,
    pub bytes: Option<i64>,
    pub format: Option<String>,
    pub sheet: Option<String>,
    pub encoding: Option<String>,
    pub header_row: Option<i64>,
    pub export_date: Option<NaiveDate>,
    pub rows_read: i64,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    pub rows_skipped: i64,
    pub status: String,
    pub error: Option<String>,
    pub warnings: Option<String>,
    /// What decides whether a file must be parsed again: its path and content, its pipeline file, the
    /// key fingerprint and the followup version.
    pub cache_key: Option<String>,
    /// The mapped optional columns whose header the file lacks (header texts as mapped, `, `-separated):
    /// their fields are empty on every row of the file. Usually a renamed column in a new export.
    pub columns_missing: Option<String>,
}

pub fn file_loads_batch(rows: &[FileLoad]) -> Result<RecordBatch> {
    let cols = vec![
        strs(rows.iter().map(|r| Some(r.load_id.as_str()))),
        strs(rows.iter().map(|r| Some(r.project_id.as_ref()))),
        strs(rows.iter().map(|r| r.source_id.as_deref())),
        strs(rows.iter().map(|r| Some(r.path.as_str()))),
        strs(rows.iter().map(|r| r.sha256.as_deref())),
        ints(rows.iter().map(|r| r.bytes)),
        strs(rows.iter().map(|r| r.format.as_deref())),
        strs(rows.iter().map(|r| r.sheet.as_deref())),
        strs(rows.iter().map(|r| r.encoding.as_deref())),
        ints(rows.iter().map(|r| r.header_row)),
        dates(rows.iter().map(|r| r.export_date)),
        ints(rows.iter().map(|r| Some(r.rows_read))),
        ints(rows.iter().map(|r| Some(r.rows_loaded))),
        ints(rows.iter().map(|r| Some(r.rows_rejected))),
        ints(rows.iter().map(|r| Some(r.rows_skipped))),
        strs(rows.iter().map(|r| Some(r.status.as_str()))),
        strs(rows.iter().map(|r| r.error.as_deref())),
        strs(rows.iter().map(|r| r.warnings.as_deref())),
        strs(rows.iter().map(|r| r.cache_key.as_deref())),
        strs(rows.iter().map(|r| r.columns_missing.as_deref())),
    ];
    batch("file_loads", file_loads_schema(), cols)
}

#[derive(Debug, Clone, Default)]
pub struct RunRow {
    pub load_id: String,
    pub started_at_us: i64,
    pub finished_at_us: i64,
    pub status: String,
    pub files: i64,
    pub files_loaded: i64,
    pub files_unchanged: i64,
    pub files_failed: i64,
    pub rows_read: i64,
    pub rows_loaded: i64,
    pub rows_rejected: i64,
    pub rows_skipped: i64,
    pub key_fingerprint: String,
    pub key_source: String,
}

pub fn runs_batch(rows: &[RunRow]) -> Result<RecordBatch> {
    let tsa = |it: Vec<i64>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(it).with_timezone("UTC"))
    };
    let cols = vec![
        strs(rows.iter().map(|r| Some(r.load_id.as_str()))),
        tsa(rows.iter().map(|r| r.started_at_us).collect()),
        tsa(rows.iter().map(|r| r.finished_at_us).collect()),
        ints(
            rows.iter()
                .map(|r| Some((r.finished_at_us - r.started_at_us) / 1000)),
        ),
        strs(rows.iter().map(|r| Some(r.status.as_str()))),
        ints(rows.iter().map(|r| Some(r.files))),
        ints(rows.iter().map(|r| Some(r.files_loaded))),
        ints(rows.iter().map(|r| Some(r.files_unchanged))),
        ints(rows.iter().map(|r| Some(r.files_failed))),
        ints(rows.iter().map(|r| Some(r.rows_read))),
        ints(rows.iter().map(|r| Some(r.rows_loaded))),
        ints(rows.iter().map(|r| Some(r.rows_rejected))),
        ints(rows.iter().map(|r| Some(r.rows_skipped))),
        strs(rows.iter().map(|r| Some(r.key_fingerprint.as_str()))),
        strs(rows.iter().map(|r| Some(r.key_source.as_str()))),
        strs(rows.iter().map(|_| Some(env!("CARGO_PKG_VERSION")))),
    ];
    batch("runs", runs_schema(), cols)
}

/// `projects`, `subprojects`, `targets` and `sources` from the pipeline files.
pub fn reference_batches(
    pipelines: &[Pipeline],
    report_dates: &std::collections::BTreeMap<String, NaiveDate>,
) -> Result<Vec<(&'static str, RecordBatch)>> {
    let ps: Vec<_> = pipelines.iter().map(|p| &p.file.project).collect();
    let projects = {
        let schema = Arc::new(Schema::new(vec![
            utf8_nn("project_id"),
            utf8_nn("name"),
            utf8("case_number"),
            utf8_nn("owner"),
            utf8("region"),
            utf8("county_code"),
            utf8_nn("programme"),
            f("period_start", DataType::Date32, false),
            f("period_end", DataType::Date32, false),
            int("budget_sek"),
            int("esf_grant_sek"),
            f("cofinancing_rate", DataType::Float64, true),
            int("planned_participants"),
            date("report_date"),
            utf8("assumptions"),
            utf8("description"),
            utf8_nn("pipeline_file"),
        ]));
        let assumptions: Vec<String> = ps.iter().map(|p| p.assumptions.join(" | ")).collect();
        let files: Vec<String> = pipelines
            .iter()
            .map(|p| {
                p.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        batch(
            "projects",
            schema,
            vec![
                strs(ps.iter().map(|p| Some(p.id.as_str()))),
                strs(ps.iter().map(|p| Some(p.name.as_str()))),
                strs(ps.iter().map(|p| p.case_number.as_deref())),
                strs(ps.iter().map(|p| Some(p.owner.as_str()))),
                strs(ps.iter().map(|p| p.region.as_deref())),
                strs(ps.iter().map(|p| p.county_code.as_deref())),
                strs(ps.iter().map(|p| Some(p.programme.as_str()))),
                dates(ps.iter().map(|p| Some(p.period_start.0))),
                dates(ps.iter().map(|p| Some(p.period_end.0))),
                ints(ps.iter().map(|p| p.budget_sek)),
                ints(ps.iter().map(|p| p.esf_grant_sek)),
                floats(ps.iter().map(|p| p.cofinancing_rate)),
                ints(ps.iter().map(|p| p.planned_participants)),
                dates(ps.iter().map(|p| report_dates.get(&p.id).copied())),
                strs(
                    assumptions
                        .iter()
                        .map(|a| (!a.is_empty()).then_some(a.as_str())),
                ),
                strs(ps.iter().map(|p| p.description.as_deref())),
                strs(files.iter().map(|f| Some(f.as_str()))),
            ],
        )?
    };
    let subs: Vec<_> = pipelines
        .iter()
        .flat_map(|p| p.file.subprojects.iter().map(move |s| (p.project_id(), s)))
        .collect();
    let subprojects = batch(
        "subprojects",
        Arc::new(Schema::new(vec![
            utf8_nn("project_id"),
            utf8_nn("subproject_id"),
            utf8_nn("name"),
            utf8_nn("municipality_code"),
            utf8_nn("county_code"),
            utf8("municipality_name"),
            utf8("track"),
        ])),
        vec![
            strs(subs.iter().map(|(p, _)| Some(*p))),
            strs(subs.iter().map(|(_, s)| Some(s.id.as_str()))),
            strs(subs.iter().map(|(_, s)| Some(s.name.as_str()))),
            strs(subs.iter().map(|(_, s)| Some(s.municipality_code.as_str()))),
            strs(subs.iter().map(|(_, s)| Some(&s.municipality_code[..2]))),
            strs(
                subs.iter()
                    .map(|(_, s)| crate::domain::kommun_name(&s.municipality_code)),
            ),
            strs(subs.iter().map(|(_, s)| s.track.as_deref())),
        ],
    )?;
    let ts: Vec<_> = pipelines
        .iter()
        .flat_map(|p| p.file.targets.iter().map(move |t| (p.project_id(), t)))
        .collect();
    let outcomes: Vec<String> = ts.iter().map(|(_, t)| t.outcomes.join(",")).collect();
    let targets = batch(
        "targets",
        Arc::new(Schema::new(vec![
            utf8_nn("project_id"),
            utf8_nn("target_id"),
            utf8_nn("name"),
            utf8_nn("metric"),
            utf8_nn("op"),
            f("target_value", DataType::Float64, false),
            utf8("outcomes"),
            utf8("source_text"),
        ])),
        vec![
            strs(ts.iter().map(|(p, _)| Some(*p))),
            strs(ts.iter().map(|(_, t)| Some(t.id.as_str()))),
            strs(ts.iter().map(|(_, t)| Some(t.name.as_str()))),
            strs(ts.iter().map(|(_, t)| Some(t.metric.as_str()))),
            strs(ts.iter().map(|(_, t)| Some(t.op.as_str()))),
            floats(ts.iter().map(|(_, t)| Some(t.value))),
            strs(
                outcomes
                    .iter()
                    .map(|o| (!o.is_empty()).then_some(o.as_str())),
            ),
            strs(ts.iter().map(|(_, t)| t.source_text.as_deref())),
        ],
    )?;
    let srcs: Vec<_> = pipelines
        .iter()
        .flat_map(|p| {
            p.file
                .sources
                .iter()
                .enumerate()
                .map(move |(i, s)| (p.project_id(), s.source_id(i), s))
        })
        .collect();
    let globs: Vec<String> = srcs.iter().map(|(_, _, s)| s.files.join(", ")).collect();
    let sources = batch(
        "sources",
        Arc::new(Schema::new(vec![
            utf8_nn("project_id"),
            utf8_nn("source_id"),
            utf8_nn("kind"),
            utf8("subproject_id"),
            utf8_nn("files"),
            f("max_export_age_days", DataType::Int64, false),
            f("max_reject_share", DataType::Float64, false),
        ])),
        vec![
            strs(srcs.iter().map(|(p, _, _)| Some(*p))),
            strs(srcs.iter().map(|(_, id, _)| Some(id.as_str()))),
            strs(srcs.iter().map(|(_, _, s)| {
                Some(match s.kind {
                    crate::config::SourceKind::Enrolments => "enrolments",
                    crate::config::SourceKind::Activities => "activities",
                })
            })),
            strs(srcs.iter().map(|(_, _, s)| s.subproject.as_deref())),
            strs(globs.iter().map(|g| Some(g.as_str()))),
            ints(srcs.iter().map(|(_, _, s)| {
                Some(i64::from(
                    s.max_export_age_days
                        .unwrap_or(crate::config::DEFAULT_MAX_EXPORT_AGE_DAYS),
                ))
            })),
            floats(srcs.iter().map(|(_, _, s)| {
                Some(
                    s.max_reject_share
                        .unwrap_or(crate::config::DEFAULT_MAX_REJECT_SHARE),
                )
            })),
        ],
    )?;
    Ok(vec![
        ("projects", projects),
        ("subprojects", subprojects),
        ("targets", targets),
        ("sources", sources),
    ])
}

/// Warehouse folders.
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
        }
    }
    pub fn current(&self) -> PathBuf {
        self.root.join("current")
    }
    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }
    pub fn snapshot(&self, load_id: &str) -> PathBuf {
        self.snapshots().join(load_id)
    }
    pub fn lock(&self) -> PathBuf {
        self.root.join("run.lock")
    }

    /// The snapshot `current` points at, if any.
    pub fn current_snapshot(&self) -> Option<PathBuf> {
        let target = std::fs::read_link(self.current()).ok()?;
        let abs = if target.is_absolute() {
            target
        } else {
            self.root.join(target)
        };
        abs.is_dir().then_some(abs)
    }

    /// Atomically point `current` at a snapshot: a new symlink renamed over the old one.
    pub fn publish(&self, load_id: &str) -> Result<()> {
        let tmp = self.root.join(format!(".current.{load_id}"));
        let _ = std::fs::remove_file(&tmp);
        let rel = Path::new("snapshots").join(load_id);
        symlink(&rel, &tmp).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, self.current()).map_err(io_err(&self.current()))?;
        if let Ok(dir) = File::open(&self.root) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}
