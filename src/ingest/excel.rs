//! Excel-family workbooks (xlsx/xlsm, xls, ods) through calamine. Cached formula values only; error cells
//! come through as `Cell::Error`; dates come through as `Cell::DateTime` with the workbook's epoch applied.
//!
//! A sheet is held sparsely: only the cells that hold a value, sorted by position. Rows are built one at a
//! time as they are read, so a sheet whose used range is huge but nearly empty (data in A1:F5 and one stray
//! cell at XFD1048576, i.e. 17 billion cells as a rectangle) costs what its cells cost, not what its
//! rectangle would. xlsx is read with calamine's streaming cell reader for that reason; calamine's
//! `worksheet_range` would allocate the whole rectangle (and abort the process when it cannot). xls (at most
//! 65,536 × 256) and ods are read through `worksheet_range` and then made sparse.
//!
//! An xlsx sheet is not held at all: a thread of its own parses it and hands over its cells in chunks, and
//! rows are built from them as they come, so memory does not grow with the sheet (a 200 000-row sheet held
//! sparsely took over 100 MB). That needs the cells in order, as every writer lists them; a sheet whose
//! cells come out of order (or a position twice) stops with [`ReadError::OutOfOrder`], and the caller reads
//! it again whole ([`ReadOptions::whole_sheet`]), sorted like an xls or ods sheet.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsx};
use smol_str::SmolStr;

use super::{Cell, FileInfo, Format, RawRow, ReadError, ReadOptions, RowSource};
use crate::config::SheetSel;

/// Excel's own limits: 1,048,576 rows × 16,384 columns (A..XFD). A cell beyond them is a corrupt file.
pub const MAX_ROWS: u32 = 1_048_576;
pub const MAX_COLS: u32 = 16_384;

/// Above this many cells (counting each non-empty row as wide as its last used column) a sheet is refused
/// rather than loaded: a 10 MB file can declare billions.
const MAX_CELLS: u64 = 50_000_000;

/// Non-empty cells of a sheet: (0-based row, 0-based column, value).
type SheetCells = Vec<(u32, u32, Cell)>;

pub struct ExcelSource {
    rows: Rows,
    info: FileInfo,
}

enum Rows {
    Held(HeldRows),
    Streamed(Box<StreamedRows>),
}

/// A whole sheet in memory (xls, ods, and an xlsx sheet whose cells came out of order).
struct HeldRows {
    /// Non-empty cells, sorted by (row, col), 0-based absolute positions, one entry per position.
    cells: SheetCells,
    /// Index into `cells` of the first cell of the next row to return.
    pos: usize,
    /// 0-based number of the next row to return; rows without cells between used rows are blank rows.
    next: u32,
    /// 0-based number of the last used row (exclusive end is `last + 1`); None for an empty sheet.
    last: Option<u32>,
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

/// A panic inside calamine (a malformed file it did not expect), as this file's error.
fn gave_up(format: Format, p: Box<dyn std::any::Any + Send>) -> ReadError {
    let text = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ReadError::Corrupt {
        format: format.as_str(),
        detail: format!("the workbook library gave up on it ({text})"),
    }
}

/// The sheet to read: the first, a 1-based number, or a name matched like a header.
fn pick_sheet(names: &[String], sel: Option<&SheetSel>) -> Result<String, ReadError> {
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
    match sel {
        None => Ok(names[0].clone()),
        Some(SheetSel::Index(i)) => {
            names
                .get(i.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| ReadError::SheetNotFound {
                    wanted: format!("number {i}"),
                    found: listing(),
                })
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
                })
        }
    }
}

/// Collects the non-empty cells of a sheet, enforcing Excel's limits and the cell budget.
struct Collector {
    format: Format,
    cells: Vec<(u32, u32, Cell)>,
}

/// A cell beyond Excel's limits makes the file corrupt.
fn check_position(format: Format, row: u32, col: u32) -> Result<(), ReadError> {
    if row >= MAX_ROWS || col >= MAX_COLS {
        return Err(ReadError::Corrupt {
            format: format.as_str(),
            detail: format!(
                "a cell at row {}, column {} lies beyond the sheet limits ({MAX_ROWS} rows × {MAX_COLS} columns)",
                u64::from(row) + 1,
                u64::from(col) + 1
            ),
        });
    }
    Ok(())
}

/// The value of a non-empty cell from calamine's cell reader. Shared and inline strings (most text in xlsx)
/// are copied once, straight into the cell.
fn xlsx_cell(v: &DataRef<'_>) -> Cell {
    match v {
        DataRef::SharedString(s) => Cell::Text(SmolStr::new(s)),
        DataRef::String(s) => Cell::Text(SmolStr::new(s)),
        other => to_cell(&Data::from(other.clone())),
    }
}

impl Collector {
    fn push(&mut self, row: u32, col: u32, cell: Cell) -> Result<(), ReadError> {
        check_position(self.format, row, col)?;
        if cell == Cell::Empty {
            return Ok(());
        }
        if self.cells.len() as u64 >= MAX_CELLS {
            return Err(ReadError::TooLarge {
                rows: row as usize + 1,
                cols: col as usize + 1,
                limit: MAX_CELLS as usize,
            });
        }
        self.cells.push((row, col, cell));
        Ok(())
    }

    /// Sort by position (files may list cells out of order); a position listed twice keeps its last value,
    /// as Excel would. Then check what building the rows would cost.
    /// In place: a sheet of millions of cells is never held twice (writers list cells in order, so the
    /// sort is skipped after one pass that checks it).
    fn finish(mut self) -> Result<SheetCells, ReadError> {
        if !self.cells.is_sorted_by_key(|c| (c.0, c.1)) {
            self.cells.sort_by_key(|c| (c.0, c.1)); // stable: equal positions keep file order
        }
        let mut out = self.cells;
        // One cell per position, the last listed: a repeat hands its value to the cell kept before it.
        out.dedup_by(|later, kept| {
            let same = (later.0, later.1) == (kept.0, kept.1);
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        // Each non-empty row is materialised as wide as its last used column.
        let mut cost: u64 = 0;
        let mut rows: u64 = 0;
        let mut widest: u64 = 0;
        let mut i = 0;
        while i < out.len() {
            let r = out[i].0;
            let mut j = i;
            while j + 1 < out.len() && out[j + 1].0 == r {
                j += 1;
            }
            let width = u64::from(out[j].1) + 1;
            widest = widest.max(width);
            cost += width;
            rows += 1;
            i = j + 1;
        }
        if cost > MAX_CELLS {
            return Err(ReadError::TooLarge {
                rows: rows as usize,
                cols: widest as usize,
                limit: MAX_CELLS as usize,
            });
        }
        Ok(out)
    }
}

/// The whole sheet, sorted (after the streaming reader met cells out of order).
fn read_xlsx(path: &Path, sel: Option<&SheetSel>) -> Result<(Opened, SheetCells), ReadError> {
    let format = Format::Xlsx;
    let mut wb: Xlsx<BufReader<File>> =
        calamine::open_workbook(path).map_err(|e| corrupt(format, e))?;
    let name = pick_sheet(&wb.sheet_names(), sel)?;
    let date_1904 = wb.has_1904_epoch();
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| corrupt(format, e))?;
    let mut col = Collector {
        format,
        cells: Vec::new(),
    };
    while let Some(c) = reader.next_cell().map_err(|e| corrupt(format, e))? {
        // Empty cells are skipped before any check, as calamine's own range would.
        if matches!(c.get_value(), DataRef::Empty) {
            continue;
        }
        let (r, k) = c.get_position();
        col.push(r, k, xlsx_cell(c.get_value()))?;
    }
    Ok((Opened { name, date_1904 }, col.finish()?))
}

/// The sheet a reader opened, and the workbook's date system.
struct Opened {
    name: String,
    date_1904: bool,
}

/// Cells per message from an xlsx parser thread.
const CELL_CHUNK: usize = 8192;

type CellChunk = Vec<(u32, u32, Cell)>;

/// Open an xlsx sheet on a parser thread of its own, which sends its non-empty cells in file order. The
/// sheet's name, or the reason it cannot be opened, comes back before this returns.
fn stream_xlsx(path: &Path, sel: Option<&SheetSel>) -> Result<(Opened, StreamedRows), ReadError> {
    let (opened_tx, opened_rx) = sync_channel::<Result<Opened, ReadError>>(1);
    let (tx, rx) = sync_channel::<Result<CellChunk, ReadError>>(2);
    let path = path.to_path_buf();
    let sel = sel.cloned();
    let thread = std::thread::Builder::new()
        .name("followup-xlsx".into())
        .spawn(move || {
            let mut opened = Some(opened_tx);
            // A panic inside calamine (a malformed file it did not expect) becomes this file's error.
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                parse_xlsx(path, sel.as_ref(), &mut opened, &tx)
            }));
            let failure = match result {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(p) => gave_up(Format::Xlsx, p),
            };
            // Whoever is waiting hears of it: the opener, or the reader of the rows.
            match opened.take() {
                Some(o) => {
                    let _ = o.send(Err(failure));
                }
                None => {
                    let _ = tx.send(Err(failure));
                }
            }
        })?;
    let mut rows = StreamedRows {
        rx: Some(rx),
        thread: Some(thread),
        chunk: Vec::new().into_iter(),
        peeked: None,
        last_pos: None,
        next: None,
        ahead: VecDeque::new(),
        failed: None,
        cost: 0,
        rows: 0,
        widest: 0,
    };
    match opened_rx.recv() {
        Ok(Ok(opened)) => Ok((opened, rows)),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            rows.stop();
            Err(ReadError::Corrupt {
                format: Format::Xlsx.as_str(),
                detail: "the workbook reader stopped before it found the sheet".into(),
            })
        }
    }
}

/// The parser thread's work: open the workbook, report the sheet, send its cells. Returns early, without
/// error, when the rows' reader has hung up (the file failed, or the source was dropped).
fn parse_xlsx(
    path: PathBuf,
    sel: Option<&SheetSel>,
    opened: &mut Option<SyncSender<Result<Opened, ReadError>>>,
    tx: &SyncSender<Result<CellChunk, ReadError>>,
) -> Result<(), ReadError> {
    let format = Format::Xlsx;
    let mut wb: Xlsx<BufReader<File>> =
        calamine::open_workbook(&path).map_err(|e| corrupt(format, e))?;
    let name = pick_sheet(&wb.sheet_names(), sel)?;
    let date_1904 = wb.has_1904_epoch();
    let mut reader = wb
        .worksheet_cells_reader(&name)
        .map_err(|e| corrupt(format, e))?;
    if let Some(o) = opened.take() {
        if o.send(Ok(Opened { name, date_1904 })).is_err() {
            return Ok(());
        }
    }
    let mut chunk = Vec::with_capacity(CELL_CHUNK);
    while let Some(c) = reader.next_cell().map_err(|e| corrupt(format, e))? {
        if matches!(c.get_value(), DataRef::Empty) {
            continue;
        }
        let (r, k) = c.get_position();
        check_position(format, r, k)?;
        chunk.push((r, k, xlsx_cell(c.get_value())));
        if chunk.len() == CELL_CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CELL_CHUNK));
            if tx.send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !chunk.is_empty() {
        let _ = tx.send(Ok(chunk));
    }
    Ok(())
}

/// Rows built from an xlsx parser thread's cells as they arrive.
struct StreamedRows {
    /// None once the parser has finished or failed.
    rx: Option<Receiver<Result<CellChunk, ReadError>>>,
    thread: Option<JoinHandle<()>>,
    chunk: std::vec::IntoIter<(u32, u32, Cell)>,
    /// The first cell of the next used row, read while finishing the row before it.
    peeked: Option<(u32, u32, Cell)>,
    /// Position of the last cell taken: every cell must come after it.
    last_pos: Option<(u32, u32)>,
    /// 0-based number of the next row to build; None before the first cell.
    next: Option<u32>,
    /// Rows built ahead of the caller by [`RowSource::cell_at`], returned first.
    ahead: VecDeque<RawRow>,
    /// An error met while building rows ahead, returned once those rows are.
    failed: Option<ReadError>,
    /// The cell budget, counted as [`Collector::finish`] counts a held sheet.
    cost: u64,
    rows: u64,
    widest: u64,
}

impl StreamedRows {
    /// The next non-empty cell in file order.
    fn pull(&mut self) -> Result<Option<(u32, u32, Cell)>, ReadError> {
        if let Some(c) = self.peeked.take() {
            return Ok(Some(c));
        }
        loop {
            if let Some(c) = self.chunk.next() {
                let pos = (c.0, c.1);
                if self.last_pos.is_some_and(|last| pos <= last) {
                    return Err(ReadError::OutOfOrder {
                        row: u64::from(c.0) + 1,
                        col: u64::from(c.1) + 1,
                    });
                }
                self.last_pos = Some(pos);
                return Ok(Some(c));
            }
            let Some(rx) = &self.rx else {
                return Ok(None);
            };
            match rx.recv() {
                Ok(Ok(chunk)) => self.chunk = chunk.into_iter(),
                Ok(Err(e)) => {
                    self.rx = None;
                    return Err(e);
                }
                // The parser has sent every cell.
                Err(_) => self.rx = None,
            }
        }
    }

    /// The next row of the sheet, from its first used row to its last; rows without cells between them
    /// are blank rows, as in a held sheet.
    fn build_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        let Some(first) = self.pull()? else {
            return Ok(None);
        };
        let r = first.0;
        let next = *self.next.get_or_insert(r);
        if next < r {
            self.peeked = Some(first);
            self.next = Some(next + 1);
            return Ok(Some(RawRow {
                row: u64::from(next) + 1,
                cells: Vec::new(),
            }));
        }
        let mut cells = Vec::new();
        let mut cell = Some(first);
        while let Some((row, col, value)) = cell {
            if row != r {
                self.peeked = Some((row, col, value));
                break;
            }
            // Column indices stay absolute so headers line up; gaps are empty cells.
            let col = col as usize;
            if cells.len() < col {
                cells.resize(col, Cell::Empty);
            }
            cells.push(value);
            cell = self.pull()?;
        }
        let width = cells.len() as u64;
        self.cost += width;
        self.rows += 1;
        self.widest = self.widest.max(width);
        if self.cost > MAX_CELLS {
            return Err(ReadError::TooLarge {
                rows: self.rows as usize,
                cols: self.widest as usize,
                limit: MAX_CELLS as usize,
            });
        }
        self.next = Some(r + 1);
        Ok(Some(RawRow {
            row: u64::from(r) + 1,
            cells,
        }))
    }

    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        if let Some(row) = self.ahead.pop_front() {
            return Ok(Some(row));
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.build_row()
    }

    /// A cell at or after the next row to return (the caller asks before reading rows): the rows up to it
    /// are built ahead and kept for `next_row`.
    fn cell_at(&mut self, row: u32, col: u32) -> Option<Cell> {
        while self.failed.is_none() && self.next.is_none_or(|n| n <= row) {
            match self.build_row() {
                Ok(Some(built)) => self.ahead.push_back(built),
                Ok(None) => break,
                Err(e) => self.failed = Some(e),
            }
        }
        self.ahead
            .iter()
            .find(|r| r.row == u64::from(row) + 1)
            .and_then(|r| r.cells.get(col as usize))
            .filter(|c| **c != Cell::Empty)
            .cloned()
    }

    /// Hang up on the parser and wait for it, so its workbook is freed with this file.
    fn stop(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StreamedRows {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sector numbers at and above this value are markers (end of chain, free, FAT or DIFAT sector), not links.
const CFB_MAX_REG_SECT: u32 = 0xFFFF_FFFA;

/// An `.xls` workbook is a Compound File (CFB): streams are chains of sectors linked through a table (FAT).
/// calamine follows a chain until it ends, with no bound, so a damaged or crafted table whose chain loops
/// makes it grow a buffer until the process runs out of memory (found by the `excel_rows` fuzz target,
/// `fuzz/regressions/excel_rows/`). Before calamine reads a CFB file, check that no chain of its FAT or
/// mini-FAT loops and that every link points into the table.
fn check_cfb_chains(path: &Path) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if data.len() < 512 || data[..8] != [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
        return Err("not a Compound File (no OLE2 header)".into());
    }
    let shift = u16_at(0x1E).unwrap_or(0);
    if shift != 9 && shift != 12 {
        return Err(format!(
            "Compound File header: sector size 2^{shift}, expected 2^9 or 2^12"
        ));
    }
    let size = 1usize << shift;
    let sectors = data.len().saturating_sub(size) / size + 1;
    let sector = |id: u32| -> Result<&[u8], String> {
        let start = (id as usize + 1) * size;
        data.get(start..(start + size).min(data.len()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("Compound File: sector {id} lies past the end of the file"))
    };
    let words = |b: &[u8]| -> Vec<u32> {
        b.chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect()
    };
    // The FAT's own sectors: 109 in the header, the rest in a DIFAT chain (bounded by the sector count).
    let mut fat_sectors: Vec<u32> = (0..109)
        .filter_map(|i| u32_at(0x4C + 4 * i))
        .filter(|&id| id < CFB_MAX_REG_SECT)
        .collect();
    let mut difat = u32_at(0x44).unwrap_or(u32::MAX);
    let mut hops = 0;
    while difat < CFB_MAX_REG_SECT {
        hops += 1;
        if hops > sectors {
            return Err("Compound File: the DIFAT chain loops".into());
        }
        let w = words(sector(difat)?);
        let Some((next, ids)) = w.split_last() else {
            break;
        };
        fat_sectors.extend(ids.iter().copied().filter(|&id| id < CFB_MAX_REG_SECT));
        difat = *next;
    }
    let mut fat = Vec::new();
    for id in fat_sectors {
        fat.extend(words(sector(id)?));
    }
    check_no_loops(&fat, "FAT")?;
    // The mini-FAT is itself a chain of the (now acyclic) FAT.
    let mut minifat = Vec::new();
    let mut id = u32_at(0x3C).unwrap_or(u32::MAX);
    while id < CFB_MAX_REG_SECT && (id as usize) < fat.len() {
        minifat.extend(words(sector(id)?));
        id = fat[id as usize];
    }
    check_no_loops(&minifat, "mini-FAT")
}

/// Every chain of a sector table ends: following links from any entry reaches a marker, never an entry
/// already on the path, and never an entry outside the table.
fn check_no_loops(table: &[u32], what: &str) -> Result<(), String> {
    // 0 = not yet seen, 1 = on the current path, 2 = known to end.
    let mut state = vec![0u8; table.len()];
    let mut path = Vec::new();
    for start in 0..table.len() {
        let mut i = start;
        loop {
            match state[i] {
                2 => break,
                1 => return Err(format!("Compound File: a {what} chain loops at sector {i}")),
                _ => {}
            }
            state[i] = 1;
            path.push(i);
            let next = table[i];
            if next >= CFB_MAX_REG_SECT {
                break;
            }
            if next as usize >= table.len() {
                return Err(format!(
                    "Compound File: {what} entry {i} links to sector {next}, beyond the table's {} entries",
                    table.len()
                ));
            }
            i = next as usize;
        }
        for p in path.drain(..) {
            state[p] = 2;
        }
    }
    Ok(())
}

fn read_dense(
    path: &Path,
    format: Format,
    sel: Option<&SheetSel>,
) -> Result<(Opened, SheetCells), ReadError> {
    let (name, date_1904, range) = match format {
        Format::Xls => {
            check_cfb_chains(path).map_err(|detail| ReadError::Corrupt {
                format: format.as_str(),
                detail,
            })?;
            let mut wb: Xls<BufReader<File>> =
                calamine::open_workbook(path).map_err(|e| corrupt(format, e))?;
            let name = pick_sheet(&wb.sheet_names(), sel)?;
            let range = wb.worksheet_range(&name).map_err(|e| corrupt(format, e))?;
            (name, wb.has_1904_epoch(), range)
        }
        _ => {
            // ODS keeps dates as ISO text: no serials, no epoch.
            let mut wb: Ods<BufReader<File>> =
                calamine::open_workbook(path).map_err(|e| corrupt(format, e))?;
            let name = pick_sheet(&wb.sheet_names(), sel)?;
            let range = wb.worksheet_range(&name).map_err(|e| corrupt(format, e))?;
            (name, false, range)
        }
    };
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let mut col = Collector {
        format,
        cells: Vec::new(),
    };
    for (r, c, v) in range.used_cells() {
        let (r, c) = (
            u32::try_from(r).unwrap_or(u32::MAX).saturating_add(r0),
            u32::try_from(c).unwrap_or(u32::MAX).saturating_add(c0),
        );
        col.push(r, c, to_cell(v))?;
    }
    Ok((Opened { name, date_1904 }, col.finish()?))
}

impl ExcelSource {
    pub fn open(
        path: &Path,
        format: Format,
        opts: &ReadOptions,
        warnings: Vec<String>,
    ) -> Result<Self, ReadError> {
        let sel = opts.sheet.as_ref();
        let (opened, rows) = if format == Format::Xlsx && !opts.whole_sheet {
            let (opened, rows) = stream_xlsx(path, sel)?;
            (opened, Rows::Streamed(Box::new(rows)))
        } else {
            // Everything calamine does happens here; a panic inside it (a malformed file it did not
            // expect) becomes this file's error instead of unwinding through the caller.
            let read = std::panic::catch_unwind(AssertUnwindSafe(|| match format {
                Format::Xlsx => read_xlsx(path, sel),
                Format::Xls | Format::Ods => read_dense(path, format, sel),
                Format::Csv => Err(ReadError::Corrupt {
                    format: "csv",
                    detail: "a CSV file is not read by the workbook reader".into(),
                }),
            }));
            let (opened, cells) = read.map_err(|p| gave_up(format, p))??;
            let next = cells.first().map_or(0, |c| c.0);
            let last = cells.last().map(|c| c.0);
            let held = HeldRows {
                cells,
                pos: 0,
                next,
                last,
            };
            (opened, Rows::Held(held))
        };
        Ok(ExcelSource {
            rows,
            info: FileInfo {
                format: Some(format),
                sheet: Some(opened.name),
                encoding: None,
                delimiter: None,
                warnings,
                date_1904: opened.date_1904,
            },
        })
    }
}

fn to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(SmolStr::new(s)),
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
                None => Cell::Text(SmolStr::new(s)),
            }
        }
        Data::DurationIso(s) => Cell::Text(SmolStr::new(s)),
        Data::Error(e) => Cell::Error(e.to_string()),
    }
}

impl HeldRows {
    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        let Some(last) = self.last else {
            return Ok(None);
        };
        if self.next > last {
            return Ok(None);
        }
        let r = self.next;
        self.next += 1;
        let mut cells = Vec::new();
        while let Some((row, col, cell)) = self.cells.get(self.pos) {
            if *row != r {
                break;
            }
            // Column indices stay absolute so headers line up; gaps are empty cells.
            let col = *col as usize;
            if cells.len() < col {
                cells.resize(col, Cell::Empty);
            }
            cells.push(cell.clone());
            self.pos += 1;
        }
        Ok(Some(RawRow {
            row: u64::from(r) + 1,
            cells,
        }))
    }

    fn cell_at(&self, row: u32, col: u32) -> Option<Cell> {
        self.cells
            .binary_search_by_key(&(row, col), |c| (c.0, c.1))
            .ok()
            .map(|i| self.cells[i].2.clone())
    }
}

impl RowSource for ExcelSource {
    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        match &mut self.rows {
            Rows::Held(h) => h.next_row(),
            Rows::Streamed(s) => s.next_row(),
        }
    }

    fn info(&self) -> &FileInfo {
        &self.info
    }

    fn cell_at(&mut self, row: u32, col: u32) -> Option<Cell> {
        match &mut self.rows {
            Rows::Held(h) => h.cell_at(row, col),
            Rows::Streamed(s) => s.cell_at(row, col),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(SmolStr::new(s))
    }

    fn sheet(cells: &[(u32, u32, &str)]) -> SheetCells {
        cells.iter().map(|&(r, k, v)| (r, k, text(v))).collect()
    }

    fn collect(cells: &[(u32, u32, &str)]) -> SheetCells {
        let mut c = Collector {
            format: Format::Xlsx,
            cells: Vec::new(),
        };
        for &(r, k, v) in cells {
            c.push(r, k, text(v)).expect("within the limits");
        }
        c.finish().expect("small sheet")
    }

    #[test]
    fn cells_in_order_are_kept_and_cells_out_of_order_are_sorted() {
        let in_order = [(0, 0, "a"), (0, 2, "b"), (1, 1, "c"), (4, 0, "d")];
        let want = sheet(&in_order);
        assert_eq!(collect(&in_order), want);
        let shuffled = [(4, 0, "d"), (0, 2, "b"), (1, 1, "c"), (0, 0, "a")];
        assert_eq!(collect(&shuffled), want);
    }

    #[test]
    fn a_position_listed_twice_keeps_its_last_value() {
        // In order, out of order, and three times in a row.
        let got = collect(&[
            (0, 0, "first"),
            (0, 0, "second"),
            (0, 1, "x"),
            (2, 0, "late"),
            (1, 0, "y"),
            (2, 0, "later"),
            (3, 3, "1"),
            (3, 3, "2"),
            (3, 3, "3"),
        ]);
        let want = sheet(&[
            (0, 0, "second"),
            (0, 1, "x"),
            (1, 0, "y"),
            (2, 0, "later"),
            (3, 3, "3"),
        ]);
        assert_eq!(got, want);
    }
}
