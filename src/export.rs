//! `followup export`: the marts of the current snapshot as files for people who do not write SQL.
//!
//! By default the disclosure-controlled marts under `published/` are exported; `--unsuppressed` exports the
//! same marts without disclosure control (for authorised analysts). Formats:
//!
//! - `xlsx`: one workbook, one sheet per mart; typed cells (numbers, shares shown as percentages, Excel
//!   dates with a date format, booleans, empty cells for nulls), the header row frozen, an autofilter,
//!   column widths set to the content;
//! - `csv-sv`: one file per mart that Swedish Excel opens by double-click: UTF-8 with BOM, `;` between
//!   fields, decimal comma (floats only), ISO dates, CRLF line ends, booleans as SANT/FALSKT;
//! - `csv`: one file per mart, plain RFC 4180: `,`, decimal point, no BOM, ISO dates, true/false;
//! - `parquet`: one file per mart, the warehouse's own Parquet file.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::warehouse::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One workbook, one sheet per mart.
    Xlsx,
    /// One CSV per mart for Swedish Excel: `;`, decimal comma, UTF-8 with BOM.
    CsvSv,
    /// One plain CSV per mart: `,`, decimal point, UTF-8.
    Csv,
    /// One Parquet file per mart.
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no published warehouse at {0}: run `followup run` first")]
    NoWarehouse(PathBuf),
    #[error("no published marts in {0}: run `followup run` (a newer version) first")]
    NoMarts(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
    #[error("mart {mart} has {rows} rows, more than an Excel sheet holds (1,048,575 below the header): use --format csv or parquet")]
    TooManyRows { mart: String, rows: usize },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One mart of a snapshot: its name and its Parquet file.
#[derive(Debug, Clone)]
pub struct Mart {
    pub name: String,
    pub path: PathBuf,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// The snapshot (load id) the marts came from.
    pub load_id: String,
    pub unsuppressed: bool,
    /// (mart, rows)
    pub marts: Vec<(String, usize)>,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// The marts of a snapshot folder: the ones under `published/` (in the order of
/// [`crate::disclosure::PUBLISHED`], then by name), or with `unsuppressed` the same marts without
/// disclosure control.
pub fn marts(snapshot: &Path, unsuppressed: bool) -> Result<Vec<Mart>, ExportError> {
    let published = snapshot.join("published");
    let mut names: Vec<String> = match std::fs::read_dir(&published) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "parquet"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .filter(|s| !s.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    let rank = |n: &str| {
        crate::disclosure::PUBLISHED
            .iter()
            .position(|s| s.name == n)
            .unwrap_or(usize::MAX)
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    let out: Vec<Mart> = names
        .into_iter()
        .map(|name| {
            let path = if unsuppressed {
                snapshot.join(format!("{name}.parquet"))
            } else {
                published.join(format!("{name}.parquet"))
            };
            Mart { name, path }
        })
        .filter(|m| m.path.is_file())
        .collect();
    if out.is_empty() {
        return Err(ExportError::NoMarts(snapshot.to_path_buf()));
    }
    Ok(out)
}

/// Read a whole Parquet file: its schema and batches.
pub fn read_parquet(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), ExportError> {
    let rerr = |e: &dyn std::fmt::Display| ExportError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| rerr(&e))?;
    let schema = builder.schema().clone();
    let reader = builder.build().map_err(|e| rerr(&e))?;
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| rerr(&e))?);
    }
    Ok((schema, batches))
}

/// A column in the few shapes an export distinguishes.
enum Col {
    Int(Int64Array),
    Float(Float64Array),
    Bool(BooleanArray),
    Date(Date32Array),
    /// Microseconds; shown in UTC.
    Timestamp(TimestampMicrosecondArray),
    Text(StringArray),
    Other(ArrayRef),
}

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
    DateTime(chrono::NaiveDateTime),
    Text(Cow<'a, str>),
}

fn cast_to(a: &ArrayRef, t: &DataType) -> Option<ArrayRef> {
    cast(a, t).ok()
}

impl Col {
    fn new(a: &ArrayRef) -> Col {
        let other = || Col::Other(a.clone());
        match a.data_type() {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => cast_to(a, &DataType::Int64)
                .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
                .map_or_else(other, Col::Int),
            DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => cast_to(a, &DataType::Float64)
                .and_then(|c| c.as_primitive_opt::<Float64Type>().cloned())
                .map_or_else(other, Col::Float),
            DataType::Boolean => a.as_boolean_opt().cloned().map_or_else(other, Col::Bool),
            DataType::Date32 | DataType::Date64 => cast_to(a, &DataType::Date32)
                .and_then(|c| c.as_primitive_opt::<Date32Type>().cloned())
                .map_or_else(other, Col::Date),
            DataType::Timestamp(_, tz) => {
                cast_to(a, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()))
                    .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>().cloned())
                    .map_or_else(other, Col::Timestamp)
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                cast_to(a, &DataType::Utf8)
                    .and_then(|c| c.as_string_opt::<i32>().cloned())
                    .map_or_else(other, Col::Text)
            }
            _ => other(),
        }
    }

    fn cell(&self, row: usize) -> Cell<'_> {
        let a: &dyn Array = match self {
            Col::Int(a) => a,
            Col::Float(a) => a,
            Col::Bool(a) => a,
            Col::Date(a) => a,
            Col::Timestamp(a) => a,
            Col::Text(a) => a,
            Col::Other(a) => a.as_ref(),
        };
        if a.is_null(row) {
            return Cell::Null;
        }
        match self {
            Col::Int(a) => Cell::Int(a.value(row)),
            Col::Float(a) => Cell::Float(a.value(row)),
            Col::Bool(a) => Cell::Bool(a.value(row)),
            // Date32 counts days from 1970-01-01, day 719,163 of the common era.
            Col::Date(a) => a
                .value(row)
                .checked_add(719_163)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .map_or(Cell::Null, Cell::Date),
            Col::Timestamp(a) => DateTime::from_timestamp_micros(a.value(row))
                .map_or(Cell::Null, |t| Cell::DateTime(t.naive_utc())),
            Col::Text(a) => Cell::Text(Cow::Borrowed(a.value(row))),
            Col::Other(a) => Cell::Text(Cow::Owned(
                array_value_to_string(a, row).unwrap_or_default(),
            )),
        }
    }
}

fn columns(batch: &RecordBatch) -> Vec<Col> {
    batch.columns().iter().map(Col::new).collect()
}

impl Cell<'_> {
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Date(v) => Cell::Date(v),
            Cell::DateTime(v) => Cell::DateTime(v),
            Cell::Text(s) => Cell::Text(Cow::Owned(s.into_owned())),
        }
    }
}

/// Every row of a table as owned cells, in the export's typing (for readers such as the run report).
pub fn owned_rows(batches: &[RecordBatch]) -> Vec<Vec<Cell<'static>>> {
    let mut out = Vec::with_capacity(rows(batches));
    for b in batches {
        let cols = columns(b);
        for row in 0..b.num_rows() {
            out.push(cols.iter().map(|c| c.cell(row).into_owned()).collect());
        }
    }
    out
}

/// Export the current snapshot's marts in `format` to `output` (a file for xlsx, else a folder).
pub fn export(
    warehouse_dir: &Path,
    format: ExportFormat,
    output: &Path,
    unsuppressed: bool,
) -> Result<ExportSummary, ExportError> {
    let layout = Layout::new(warehouse_dir);
    let snapshot = layout
        .current_snapshot()
        .ok_or_else(|| ExportError::NoWarehouse(warehouse_dir.to_path_buf()))?;
    export_snapshot(&snapshot, format, output, unsuppressed)
}

/// Export the marts of one snapshot folder.
pub fn export_snapshot(
    snapshot: &Path,
    format: ExportFormat,
    output: &Path,
    unsuppressed: bool,
) -> Result<ExportSummary, ExportError> {
    let list = marts(snapshot, unsuppressed)?;
    let load_id = snapshot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut summary = ExportSummary {
        load_id,
        unsuppressed,
        marts: Vec::new(),
        files: Vec::new(),
    };
    if format == ExportFormat::Xlsx {
        if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut tables = Vec::new();
        for m in &list {
            let (schema, batches) = read_parquet(&m.path)?;
            summary.marts.push((m.name.clone(), rows(&batches)));
            tables.push((m.name.clone(), schema, batches));
        }
        write_xlsx(&tables, output, &summary)?;
        summary.files.push(output.to_path_buf());
        return Ok(summary);
    }
    std::fs::create_dir_all(output).map_err(io_err(output))?;
    for m in &list {
        let (ext, style) = match format {
            ExportFormat::CsvSv => ("csv", Some(CsvStyle::SWEDISH_EXCEL)),
            ExportFormat::Csv => ("csv", Some(CsvStyle::PLAIN)),
            _ => ("parquet", None),
        };
        let dest = output.join(format!("{}.{ext}", m.name));
        let tmp = output.join(format!(".{}.{ext}.tmp", m.name));
        let written = match style {
            Some(style) => read_parquet(&m.path).and_then(|(schema, batches)| {
                write_csv(&schema, &batches, &tmp, style)?;
                Ok(rows(&batches))
            }),
            None => std::fs::copy(&m.path, &tmp)
                .map_err(io_err(&tmp))
                .and_then(|_| {
                    let file = std::fs::File::open(&m.path).map_err(io_err(&m.path))?;
                    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                        ExportError::Read {
                            path: m.path.clone(),
                            message: e.to_string(),
                        }
                    })?;
                    Ok(builder.metadata().file_metadata().num_rows().max(0) as usize)
                }),
        };
        // A failed file leaves no half-written temporary behind.
        let n = written
            .and_then(|n| {
                std::fs::rename(&tmp, &dest)
                    .map_err(io_err(&dest))
                    .map(|()| n)
            })
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
        summary.marts.push((m.name.clone(), n));
        summary.files.push(dest);
    }
    Ok(summary)
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// How a CSV variant writes fields.
#[derive(Debug, Clone, Copy)]
pub struct CsvStyle {
    pub delimiter: u8,
    pub decimal_comma: bool,
    pub bom: bool,
    pub crlf: bool,
    pub true_text: &'static str,
    pub false_text: &'static str,
}

impl CsvStyle {
    /// What Swedish Excel reads on a double-click: `;`, decimal comma, UTF-8 with BOM, SANT/FALSKT.
    pub const SWEDISH_EXCEL: CsvStyle = CsvStyle {
        delimiter: b';',
        decimal_comma: true,
        bom: true,
        crlf: true,
        true_text: "SANT",
        false_text: "FALSKT",
    };
    pub const PLAIN: CsvStyle = CsvStyle {
        delimiter: b',',
        decimal_comma: false,
        bom: false,
        crlf: false,
        true_text: "true",
        false_text: "false",
    };
}

/// The text of a cell in a CSV variant: ISO dates, decimal comma for floats only when asked.
pub fn csv_text<'a>(cell: &'a Cell<'a>, style: &CsvStyle) -> Cow<'a, str> {
    match cell {
        Cell::Null => Cow::Borrowed(""),
        Cell::Int(v) => Cow::Owned(v.to_string()),
        Cell::Float(v) => {
            let s = v.to_string();
            if style.decimal_comma {
                Cow::Owned(s.replace('.', ","))
            } else {
                Cow::Owned(s)
            }
        }
        Cell::Bool(b) => Cow::Borrowed(if *b {
            style.true_text
        } else {
            style.false_text
        }),
        Cell::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
        Cell::DateTime(t) => Cow::Owned(t.format("%Y-%m-%d %H:%M:%S").to_string()),
        Cell::Text(s) => Cow::Borrowed(s.as_ref()),
    }
}

fn write_csv(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    path: &Path,
    style: CsvStyle,
) -> Result<(), ExportError> {
    use std::io::Write;
    let werr = |e: &dyn std::fmt::Display| ExportError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let mut buf = std::io::BufWriter::new(file);
    if style.bom {
        buf.write_all("\u{feff}".as_bytes()).map_err(io_err(path))?;
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(style.delimiter)
        .terminator(if style.crlf {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(buf);
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
        .map_err(|e| werr(&e))?;
    for b in batches {
        let cols = columns(b);
        for row in 0..b.num_rows() {
            let cells: Vec<Cell> = cols.iter().map(|c| c.cell(row)).collect();
            w.write_record(cells.iter().map(|c| csv_text(c, &style).into_owned()))
                .map_err(|e| werr(&e))?;
        }
    }
    let buf = w.into_inner().map_err(|e| werr(&e))?;
    let file = buf.into_inner().map_err(|e| werr(e.error()))?;
    file.sync_all().map_err(io_err(path))?;
    Ok(())
}

/// A worksheet name Excel accepts: at most 31 characters, none of `[]:*?/\`, not starting or ending
/// with an apostrophe, unique (case-insensitively) among `taken`.
pub fn sheet_name(name: &str, taken: &[String]) -> String {
    let clean: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    let clean = clean.trim_matches('\'');
    let base: String = if clean.is_empty() {
        "mart".into()
    } else {
        clean.into()
    };
    let fits = |s: &str, room: usize| s.chars().take(room).collect::<String>();
    let mut candidate = fits(&base, 31);
    let mut i = 2;
    while taken
        .iter()
        .any(|t| t.to_lowercase() == candidate.to_lowercase())
    {
        let suffix = format!("~{i}");
        candidate = format!("{}{suffix}", fits(&base, 31 - suffix.len()));
        i += 1;
    }
    candidate
}

/// Display width (characters) of a cell, for setting column widths.
fn cell_width(cell: &Cell) -> usize {
    match cell {
        Cell::Null => 0,
        Cell::Int(v) => v.to_string().len(),
        Cell::Float(v) => {
            // Excel's General format shows at most about 11 significant characters.
            v.to_string().len().min(12)
        }
        Cell::Bool(_) => 5,
        Cell::Date(_) => 10,
        Cell::DateTime(_) => 19,
        Cell::Text(s) => s.chars().count(),
    }
}

const EXCEL_MAX_DATA_ROWS: usize = 1_048_575;

fn write_xlsx(
    tables: &[(String, SchemaRef, Vec<RecordBatch>)],
    output: &Path,
    summary: &ExportSummary,
) -> Result<(), ExportError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook};
    let werr = |e: &dyn std::fmt::Display| ExportError::Write {
        path: output.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = Workbook::new();
    let kind = if summary.unsuppressed {
        "unsuppressed marts (NOT disclosure-controlled: authorised analysts only)"
    } else {
        "published marts (disclosure-controlled)"
    };
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("followup export {}", summary.load_id))
            .set_comment(format!(
                "followup snapshot {}: {kind}; one sheet per mart",
                summary.load_id
            ))
            .set_author("followup"),
    );
    let header = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin);
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let datetime_fmt = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    // Shares are fractions (0.625); Excel shows them as percentages, the cell keeps the exact value.
    let share_fmt = Format::new().set_num_format("0.0%");
    let mut taken: Vec<String> = Vec::new();
    for (name, schema, batches) in tables {
        let n = rows(batches);
        if n > EXCEL_MAX_DATA_ROWS {
            return Err(ExportError::TooManyRows {
                mart: name.clone(),
                rows: n,
            });
        }
        let sheet = sheet_name(name, &taken);
        taken.push(sheet.clone());
        let ws = wb.add_worksheet();
        ws.set_name(&sheet).map_err(|e| werr(&e))?;
        let ncols = schema.fields().len();
        let shares: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| f.name().starts_with("share_"))
            .collect();
        let mut widths: Vec<usize> = schema
            .fields()
            .iter()
            .map(|f| f.name().chars().count())
            .collect();
        for (c, f) in schema.fields().iter().enumerate() {
            ws.write_string_with_format(0, c as u16, f.name(), &header)
                .map_err(|e| werr(&e))?;
        }
        let mut r: u32 = 1;
        for b in batches {
            let cols = columns(b);
            for row in 0..b.num_rows() {
                for (c, col) in cols.iter().enumerate() {
                    let cell = col.cell(row);
                    let cc = c as u16;
                    if let Some(w) = widths.get_mut(c) {
                        *w = (*w).max(cell_width(&cell));
                    }
                    match &cell {
                        Cell::Null => {}
                        Cell::Int(v) => {
                            ws.write_number(r, cc, *v as f64).map_err(|e| werr(&e))?;
                        }
                        Cell::Float(v) if v.is_finite() && shares.get(c) == Some(&true) => {
                            ws.write_number_with_format(r, cc, *v, &share_fmt)
                                .map_err(|e| werr(&e))?;
                        }
                        Cell::Float(v) if v.is_finite() => {
                            ws.write_number(r, cc, *v).map_err(|e| werr(&e))?;
                        }
                        Cell::Float(v) => {
                            ws.write_string(r, cc, v.to_string())
                                .map_err(|e| werr(&e))?;
                        }
                        Cell::Bool(v) => {
                            ws.write_boolean(r, cc, *v).map_err(|e| werr(&e))?;
                        }
                        Cell::Date(d) => {
                            let secs = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
                            match secs.and_then(|s| ExcelDateTime::from_timestamp(s).ok()) {
                                Some(x) => {
                                    ws.write_datetime_with_format(r, cc, &x, &date_fmt)
                                        .map_err(|e| werr(&e))?;
                                }
                                None => {
                                    ws.write_string(r, cc, d.format("%Y-%m-%d").to_string())
                                        .map_err(|e| werr(&e))?;
                                }
                            }
                        }
                        Cell::DateTime(t) => {
                            match ExcelDateTime::from_timestamp(t.and_utc().timestamp()) {
                                Ok(x) => {
                                    ws.write_datetime_with_format(r, cc, &x, &datetime_fmt)
                                        .map_err(|e| werr(&e))?;
                                }
                                Err(_) => {
                                    ws.write_string(
                                        r,
                                        cc,
                                        t.format("%Y-%m-%d %H:%M:%S").to_string(),
                                    )
                                    .map_err(|e| werr(&e))?;
                                }
                            }
                        }
                        Cell::Text(s) => {
                            ws.write_string(r, cc, s.as_ref()).map_err(|e| werr(&e))?;
                        }
                    }
                }
                r += 1;
            }
        }
        for (c, w) in widths.iter().enumerate() {
            // Characters plus room for the autofilter button, within reason.
            let width = (*w as f64 + 3.0).clamp(8.0, 60.0);
            ws.set_column_width(c as u16, width).map_err(|e| werr(&e))?;
        }
        ws.set_freeze_panes(1, 0).map_err(|e| werr(&e))?;
        if ncols > 0 {
            ws.autofilter(0, 0, r - 1, (ncols - 1) as u16)
                .map_err(|e| werr(&e))?;
        }
    }
    let tmp = output.with_extension("xlsx.tmp");
    wb.save(&tmp)
        .map_err(|e| werr(&e))
        .and_then(|()| std::fs::rename(&tmp, output).map_err(io_err(output)))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_fit_excel() {
        let long = "a_very_long_mart_name_that_goes_on_and_on";
        let first = sheet_name(long, &[]);
        assert_eq!(first.chars().count(), 31);
        let second = sheet_name(long, std::slice::from_ref(&first));
        assert_eq!(second.chars().count(), 31);
        assert!(second.ends_with("~2"));
        assert_eq!(sheet_name("a/b:c", &[]), "a_b_c");
    }

    #[test]
    fn swedish_csv_uses_decimal_comma_for_floats_only() {
        let s = CsvStyle::SWEDISH_EXCEL;
        assert_eq!(csv_text(&Cell::Float(0.625), &s), "0,625");
        assert_eq!(csv_text(&Cell::Int(1234), &s), "1234");
        assert_eq!(
            csv_text(
                &Cell::Date(NaiveDate::from_ymd_opt(2021, 12, 31).unwrap_or_default()),
                &s
            ),
            "2021-12-31"
        );
        assert_eq!(csv_text(&Cell::Text("1.5".into()), &s), "1.5");
        assert_eq!(csv_text(&Cell::Bool(true), &s), "SANT");
        assert_eq!(csv_text(&Cell::Float(0.625), &CsvStyle::PLAIN), "0.625");
    }
}
