//! Excel-family workbooks (xlsx/xlsm, xls, ods) through calamine. Cached formula values only; error cells
//! come through as `Cell::Error`; dates come through as `Cell::DateTime` with the workbook's epoch applied.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use calamine::{Data, Ods, Range, Reader, Sheets, Xls, Xlsx};

use super::{Cell, FileInfo, Format, RawRow, ReadError, ReadOptions, RowSource};
use crate::config::SheetSel;

/// Above this many cells a sheet is refused rather than loaded (a 10 MB file can declare billions).
const MAX_CELLS: usize = 50_000_000;

pub struct ExcelSource {
    range: Range<Data>,
    start: (u32, u32),
    next: usize,
    height: usize,
    info: FileInfo,
}

fn corrupt(format: Format, e: impl std::fmt::Display) -> ReadError {
    let detail = e.to_string();
    if detail.to_ascii_lowercase().contains("password") {
        return ReadError::Encrypted;
    }
    ReadError::Corrupt {
        format: format.as_str(),
        detail,
    }
}

impl ExcelSource {
    pub fn open(
        path: &Path,
        format: Format,
        opts: &ReadOptions,
        warnings: Vec<String>,
    ) -> Result<Self, ReadError> {
        let mut wb: Sheets<BufReader<File>> = match format {
            Format::Xlsx => Sheets::Xlsx(
                calamine::open_workbook::<Xlsx<_>, _>(path).map_err(|e| corrupt(format, e))?,
            ),
            Format::Xls => Sheets::Xls(
                calamine::open_workbook::<Xls<_>, _>(path).map_err(|e| corrupt(format, e))?,
            ),
            Format::Ods => Sheets::Ods(
                calamine::open_workbook::<Ods<_>, _>(path).map_err(|e| corrupt(format, e))?,
            ),
            Format::Csv => unreachable!("CSV is not read by the Excel reader"),
        };
        let names = wb.sheet_names();
        if names.is_empty() {
            return Err(ReadError::NoSheets);
        }
        let listing = || {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{}: \"{n}\"", i + 1))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let name = match &opts.sheet {
            None => names[0].clone(),
            Some(SheetSel::Index(i)) => {
                names
                    .get(i.wrapping_sub(1))
                    .cloned()
                    .ok_or_else(|| ReadError::SheetNotFound {
                        wanted: format!("number {i}"),
                        found: listing(),
                    })?
            }
            Some(SheetSel::Name(n)) => {
                let key = crate::domain::fold_key(n);
                names
                    .iter()
                    .find(|s| crate::domain::fold_key(s) == key)
                    .cloned()
                    .ok_or_else(|| ReadError::SheetNotFound {
                        wanted: format!("\"{n}\""),
                        found: listing(),
                    })?
            }
        };
        let range = wb.worksheet_range(&name).map_err(|e| corrupt(format, e))?;
        let (height, width) = range.get_size();
        if height.saturating_mul(width) > MAX_CELLS {
            return Err(ReadError::TooLarge {
                rows: height,
                cols: width,
                limit: MAX_CELLS,
            });
        }
        let start = range.start().unwrap_or((0, 0));
        Ok(ExcelSource {
            range,
            start,
            next: 0,
            height,
            info: FileInfo {
                format: Some(format),
                sheet: Some(name),
                encoding: None,
                delimiter: None,
                warnings,
            },
        })
    }
}

fn to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(f) => Cell::Number(*f),
        Data::Int(i) => Cell::Int(*i),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(v) if dt.is_datetime() => Cell::DateTime(v),
            // Durations and out-of-range serials stay numbers; a date column will reject them.
            _ => Cell::Number(dt.as_f64()),
        },
        Data::DateTimeIso(s) => {
            let parsed = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .or_else(|| {
                    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                });
            match parsed {
                Some(v) => Cell::DateTime(v),
                None => Cell::Text(s.clone()),
            }
        }
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

impl RowSource for ExcelSource {
    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        if self.next >= self.height {
            return Ok(None);
        }
        let i = self.next;
        self.next += 1;
        let width = self.range.width();
        let mut cells = Vec::with_capacity(width);
        // Columns left of the used range are empty; keep column indices absolute so headers line up.
        cells.resize(self.start.1 as usize, Cell::Empty);
        for c in 0..width {
            cells.push(self.range.get((i, c)).map_or(Cell::Empty, to_cell));
        }
        while cells.last().is_some_and(|c| *c == Cell::Empty) {
            cells.pop();
        }
        Ok(Some(RawRow {
            row: u64::from(self.start.0) + i as u64 + 1,
            cells,
        }))
    }

    fn info(&self) -> &FileInfo {
        &self.info
    }

    fn cell_at(&self, row: u32, col: u32) -> Option<Cell> {
        self.range.get_value((row, col)).map(to_cell)
    }
}
