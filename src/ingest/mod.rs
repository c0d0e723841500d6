//! Readers: turn one municipal file into rows of cells (text, number, date, bool, empty, error), with
//! absolute 1-based row numbers. Readers know nothing of the canonical model. The format is decided from the
//! file's content (magic bytes), the extension only breaks ties.

mod csv;
mod excel;

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use smol_str::SmolStr;

use crate::config::{Encoding, HeaderRowSel, SheetSel};
use crate::domain::fold_header;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    /// Text; up to 23 bytes are stored inline, so most cells (dates, codes, numbers) allocate nothing.
    Text(SmolStr),
    Number(f64),
    Int(i64),
    Bool(bool),
    /// An Excel date/time cell, with the workbook's epoch applied.
    DateTime(NaiveDateTime),
    /// An Excel error value such as `#N/A`.
    Error(String),
    /// A non-empty value in a column no mapping reads, in a row already known not to be blank: not decoded
    /// (names, addresses and the like are never even turned into text).
    Unread,
}

impl Cell {
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            Cell::Unread => false,
            _ => false,
        }
    }

    /// The cell as text, for headers, identifiers and value maps. Numbers print without a trailing `.0` and
    /// in shortest round-trip form, so an identifier Excel stored as a number keeps all its digits.
    pub fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Cell::Empty | Cell::Error(_) | Cell::Unread => None,
            Cell::Text(t) => Some(Cow::Borrowed(t.as_str())),
            Cell::Int(i) => Some(Cow::Owned(i.to_string())),
            Cell::Number(f) => Some(Cow::Owned(number_text(*f))),
            Cell::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Cell::DateTime(d) => Some(Cow::Owned(d.format("%Y-%m-%d %H:%M:%S").to_string())),
        }
    }
}

pub fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[derive(Debug, Clone)]
pub struct RawRow {
    /// 1-based Excel row, or the CSV line on which the record starts.
    pub row: u64,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Ods,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Csv => "csv",
        }
    }
}

/// Why a whole file could not be read. Messages say what was expected and what was found; the file path is
/// added by the caller.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot open: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error(
        "encrypted (password-protected) workbook: remove the password in Excel and send it again"
    )]
    Encrypted,
    #[error("an HTML page saved with a spreadsheet name (legacy systems export this): open it in Excel and save it as .xlsx")]
    Html,
    #[error("not a spreadsheet or text file: found binary content{0}")]
    UnknownBinary(String),
    #[error("corrupt or truncated {format} workbook: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },
    #[error("sheet {wanted} not found; the workbook has {found}")]
    SheetNotFound { wanted: String, found: String },
    #[error("the workbook has no sheets")]
    NoSheets,
    #[error("sheet is too large: {rows} rows × {cols} columns holds more than {limit} cells")]
    TooLarge {
        rows: usize,
        cols: usize,
        limit: usize,
    },
    #[error("CSV record at line {line}: {detail}")]
    Csv { line: u64, detail: String },
    #[error("header row not found: none of the first {scanned} rows holds the headers {wanted}; {closest}")]
    HeaderNotFound {
        scanned: usize,
        wanted: String,
        /// What the nearest candidate row held, or that no row held any of the headers.
        closest: String,
    },
    #[error("header row {row}: missing required column {missing}; found headers: {found}")]
    MissingColumn {
        row: u64,
        missing: String,
        found: String,
    },
    #[error("header row {row} is past the end of the file ({rows} rows)")]
    HeaderPastEnd { row: u32, rows: u64 },
    /// An xlsx sheet's cells are not in row-then-column order, or a position is listed twice: read it
    /// again with [`ReadOptions::whole_sheet`].
    #[error(
        "cells listed out of order: row {row}, column {col} comes after a cell it should precede"
    )]
    OutOfOrder { row: u64, col: u64 },
    #[error("reader crashed: {0}")]
    Panic(String),
}

/// How to read one file, from the pipeline's source entry.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub sheet: Option<SheetSel>,
    pub encoding: Encoding,
    pub delimiter: Option<u8>,
    /// Hold an xlsx sheet whole and sort its cells instead of streaming them: for a sheet whose cells
    /// came out of order ([`ReadError::OutOfOrder`]); xls and ods sheets are always held whole.
    pub whole_sheet: bool,
}

/// What the reader found out about the file, for `file_loads` and logs.
#[derive(Debug, Clone, Default)]
pub struct FileInfo {
    pub format: Option<Format>,
    pub sheet: Option<String>,
    pub encoding: Option<&'static str>,
    pub delimiter: Option<char>,
    /// Warnings that do not stop the file (extension disagrees with content, fields re-decoded, …).
    pub warnings: Vec<String>,
    /// The workbook counts dates from 1904 (Excel for Mac before 2011, or "Use 1904 date system"): a date
    /// serial that reaches a date column as a plain number is read in that system.
    pub date_1904: bool,
}

/// A stream of rows from one file. `Send`: a file is read on its own thread while its rows are normalised.
pub trait RowSource: Send {
    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError>;
    fn info(&self) -> &FileInfo;
    /// After the header: only these columns (0-based) are read by the mappings. A reader may then leave
    /// other non-empty cells as [`Cell::Unread`] once a row has a non-blank cell (blank and total rows are
    /// still recognised exactly).
    fn keep_columns(&mut self, _columns: &[usize]) {}
    /// A single cell by absolute A1 coordinates (0-based row, col), for `export_date = { from = "cell" }`.
    /// Asked before any row is read (a streaming reader reads ahead to the cell and keeps those rows).
    fn cell_at(&mut self, _row: u32, _col: u32) -> Option<Cell> {
        None
    }
}

/// Sniff the format from the first bytes.
pub fn detect_format(path: &Path) -> Result<(Format, Vec<String>), ReadError> {
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 8192];
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = &head[..n];
    if head.is_empty() {
        return Err(ReadError::Empty);
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let format = if head.starts_with(b"PK\x03\x04") {
        // ODS starts with an uncompressed `mimetype` entry naming the OpenDocument type.
        const ODS: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";
        if head.windows(ODS.len()).any(|w| w == ODS) {
            Format::Ods
        } else {
            Format::Xlsx
        }
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        // A CFB container: legacy .xls, or an encrypted OOXML package ("EncryptionInfo" stream).
        let all = std::fs::read(path)?;
        let marker: Vec<u8> = "EncryptionInfo"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        if all.windows(marker.len()).any(|w| w == marker.as_slice()) {
            return Err(ReadError::Encrypted);
        }
        Format::Xls
    } else if looks_like_html(head) {
        return Err(ReadError::Html);
    } else if looks_like_text(head) {
        Format::Csv
    } else {
        return Err(ReadError::UnknownBinary(if ext.is_empty() {
            String::new()
        } else {
            format!(" (named .{ext})")
        }));
    };
    let expected = match ext.as_str() {
        "xlsx" | "xlsm" => Some(Format::Xlsx),
        "xls" => Some(Format::Xls),
        "ods" => Some(Format::Ods),
        "csv" | "txt" | "tsv" => Some(Format::Csv),
        _ => None,
    };
    if let Some(e) = expected {
        if e != format {
            warnings.push(format!(
                "named .{ext} but its content is {}; read as {}",
                format.as_str(),
                format.as_str()
            ));
        }
    }
    Ok((format, warnings))
}

fn looks_like_html(head: &[u8]) -> bool {
    let start: Vec<u8> = head
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xEF || **b == 0xBB || **b == 0xBF)
        .take(512)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || start.starts_with(b"<table")
        || (start.starts_with(b"<") && start.windows(6).any(|w| w == b"<table"))
}

fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true; // UTF-16 with BOM
    }
    !head.contains(&0)
}

/// Open a file as a row stream. Panics inside the format libraries are caught by the caller.
pub fn open(path: &Path, opts: &ReadOptions) -> Result<Box<dyn RowSource>, ReadError> {
    let (format, warnings) = detect_format(path)?;
    Ok(match format {
        Format::Csv => Box::new(csv::CsvSource::open(path, opts, warnings)?),
        Format::Xlsx | Format::Xls | Format::Ods => {
            Box::new(excel::ExcelSource::open(path, format, opts, warnings)?)
        }
    })
}

/// Parse an A1 reference ("B2") into 0-based (row, col).
pub fn parse_a1(s: &str) -> Option<(u32, u32)> {
    let s = s.trim();
    let letters: String = s.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let digits = &s[letters.len()..];
    if letters.is_empty() || letters.len() > 3 || digits.is_empty() {
        return None;
    }
    let mut col: u32 = 0;
    for c in letters.chars() {
        col = col * 26 + (c.to_ascii_uppercase() as u32 - 'A' as u32 + 1);
    }
    let row: u32 = digits.parse().ok()?;
    if row == 0 {
        return None;
    }
    Some((row - 1, col - 1))
}

/// The located header: its row number and the column index of each wanted header.
#[derive(Debug, Clone)]
pub struct Header {
    pub row: u64,
    /// For each wanted header (same order as asked), the 0-based column index, if present.
    pub columns: Vec<Option<usize>>,
    /// Rows read before the header (title rows), to be counted as skipped.
    pub rows_before: Vec<RawRow>,
    pub found: Vec<String>,
}

const HEADER_SCAN_ROWS: usize = 50;

/// Find the header row: explicit (`header_row = N`) or the first of the first 50 rows that holds every
/// required header, preferring the row that holds the most mapped headers. `wanted` is (header text,
/// required). Rows consumed before the header are returned for counting; rows consumed after it are
/// returned in `pending` to be processed as data.
pub fn find_header(
    src: &mut dyn RowSource,
    sel: Option<&HeaderRowSel>,
    wanted: &[(String, bool)],
) -> Result<(Header, Vec<RawRow>), ReadError> {
    let folded: Vec<String> = wanted.iter().map(|(h, _)| fold_header(h)).collect();
    let locate = |row: &RawRow| -> (Vec<Option<usize>>, Vec<String>) {
        let texts: Vec<String> = row
            .cells
            .iter()
            .map(|c| {
                c.as_text()
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default()
            })
            .collect();
        let keys: Vec<String> = texts.iter().map(|t| fold_header(t)).collect();
        let cols = folded
            .iter()
            .map(|w| keys.iter().position(|k| k == w))
            .collect();
        (cols, texts)
    };
    let mut buf: Vec<RawRow> = Vec::new();
    let explicit = match sel {
        Some(HeaderRowSel::Row(n)) => Some(u64::from(*n)),
        _ => None,
    };
    let header_idx = if let Some(n) = explicit {
        loop {
            match src.next_row()? {
                Some(r) => {
                    let done = r.row >= n;
                    buf.push(r);
                    if done {
                        break;
                    }
                }
                None => {
                    return Err(ReadError::HeaderPastEnd {
                        row: n as u32,
                        rows: buf.last().map_or(0, |r| r.row),
                    })
                }
            }
        }
        let last = buf.len() - 1;
        if buf[last].row != n {
            // The sheet has no row n (it is empty): treat as header not found.
            return Err(ReadError::HeaderPastEnd {
                row: n as u32,
                rows: buf[last].row,
            });
        }
        last
    } else {
        let mut best: Option<(usize, usize)> = None;
        // The row holding the most wanted headers without holding every required one, for the error.
        let mut nearest: Option<(usize, usize)> = None;
        while buf.len() < HEADER_SCAN_ROWS {
            let Some(r) = src.next_row()? else { break };
            let (cols, _) = locate(&r);
            let has_required = cols
                .iter()
                .zip(wanted)
                .all(|(c, (_, req))| !*req || c.is_some());
            let count = cols.iter().filter(|c| c.is_some()).count();
            if count > 0 && nearest.is_none_or(|(_, n)| count > n) {
                nearest = Some((buf.len(), count));
            }
            buf.push(r);
            if has_required && best.is_none_or(|(_, n)| count > n) {
                best = Some((buf.len() - 1, count));
                if count == wanted.len() {
                    break;
                }
            }
        }
        match best {
            Some((i, _)) => i,
            None => {
                let closest = match nearest {
                    Some((i, _)) => {
                        let (cols, texts) = locate(&buf[i]);
                        let lacks: Vec<String> = cols
                            .iter()
                            .zip(wanted)
                            .filter(|(c, (_, req))| c.is_none() && *req)
                            .map(|(_, (h, _))| format!("\"{h}\""))
                            .collect();
                        format!(
                            "the closest, row {}, lacks {}; it holds {}",
                            buf[i].row,
                            lacks.join(", "),
                            header_listing(&texts)
                        )
                    }
                    None => "no row holds any of them".to_string(),
                };
                return Err(ReadError::HeaderNotFound {
                    scanned: buf.len(),
                    wanted: wanted
                        .iter()
                        .filter(|(_, r)| *r)
                        .map(|(h, _)| format!("\"{h}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    closest,
                });
            }
        }
    };
    let mut rest = buf.split_off(header_idx);
    let header_row = rest.remove(0);
    let (columns, found) = locate(&header_row);
    let missing: Vec<String> = columns
        .iter()
        .zip(wanted)
        .filter(|(c, (_, req))| c.is_none() && *req)
        .map(|(_, (h, _))| format!("\"{h}\""))
        .collect();
    if !missing.is_empty() {
        return Err(ReadError::MissingColumn {
            row: header_row.row,
            missing: missing.join(", "),
            found: header_listing(&found),
        });
    }
    Ok((
        Header {
            row: header_row.row,
            columns,
            rows_before: buf,
            found,
        },
        rest,
    ))
}

/// The non-empty texts of a (would-be) header row, quoted, for error messages. An explicit `header_row`
/// may point at a data row, so identity numbers are masked and long texts cut.
fn header_listing(texts: &[String]) -> String {
    let shown: Vec<String> = texts
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| {
            let t = crate::domain::mask(t);
            let cut: String = t.chars().take(60).collect();
            if cut.len() < t.len() {
                format!("\"{cut}…\"")
            } else {
                format!("\"{cut}\"")
            }
        })
        .collect();
    if shown.is_empty() {
        "no text".into()
    } else {
        shown.join(", ")
    }
}

/// Expand a source's globs below `dir`, sorted, files only.
pub fn expand_globs(dir: &Path, globs: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut b = globset::GlobSetBuilder::new();
    for g in globs {
        b.add(
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("bad glob `{g}`: {e}"))?,
        );
    }
    let set = b.build().map_err(|e| e.to_string())?;
    if !dir.is_dir() {
        return Err(format!("input folder {} does not exist", dir.display()));
    }
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .strip_prefix(dir)
                .is_ok_and(|rel| set.is_match(rel))
        })
        .filter(|e| {
            // Office lock files (~$name.xlsx) are never data.
            !e.file_name().to_string_lossy().starts_with("~$")
        })
        .map(|e| e.into_path())
        .collect();
    out.sort();
    Ok(out)
}
