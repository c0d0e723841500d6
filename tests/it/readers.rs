//! Readers on real files: xlsx written by rust_xlsxwriter, committed .xls/.ods fixtures, CSV in
//! Windows-1252 with `;` and decimal comma, UTF-8 with BOM, tab-separated, quoted newlines; dates.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use followup::config::{Encoding, HeaderRowSel, SheetSel};
use followup::ingest::{self, Cell, RawRow, ReadError, ReadOptions};
use followup::normalise::{excel_serial_to_date, parse_date, parse_number};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::common::{move_xlsx_row_to_end, rewrite_xlsx_part};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn opts() -> ReadOptions {
    ReadOptions {
        sheet: None,
        encoding: Encoding::Auto,
        delimiter: None,
        whole_sheet: false,
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// (header row, column index per wanted header, rows before the header, data rows, file info)
type Read = (
    u64,
    Vec<Option<usize>>,
    usize,
    Vec<RawRow>,
    ingest::FileInfo,
);

/// Open, find the header among `wanted`, and return what was read.
fn read(
    path: &Path,
    o: &ReadOptions,
    wanted: &[&str],
    sel: Option<HeaderRowSel>,
) -> Result<Read, ReadError> {
    let mut src = ingest::open(path, o)?;
    let asked: Vec<(String, bool)> = wanted.iter().map(|h| (h.to_string(), true)).collect();
    let (header, mut rows) = ingest::find_header(src.as_mut(), sel.as_ref(), &asked)?;
    while let Some(r) = src.next_row()? {
        rows.push(r);
    }
    Ok((
        header.row,
        header.columns,
        header.rows_before.len(),
        rows,
        src.info().clone(),
    ))
}

fn text(c: &Cell) -> String {
    c.as_text().map(|t| t.into_owned()).unwrap_or_default()
}

const FORMATS: [&str; 3] = ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y%m%d"];

fn formats() -> Vec<String> {
    FORMATS.iter().map(|s| s.to_string()).collect()
}

#[test]
fn xlsx_with_title_rows_date_cells_and_text_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bollnas.xlsx");
    let mut wb = Workbook::new();
    let first = wb.add_worksheet();
    first.set_name("Info").unwrap();
    first.write_string(0, 0, "Instruktioner").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("Deltagare").unwrap();
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(0, 0, "Deltagarlista – Bollnäs kommun")
        .unwrap();
    ws.write_string(1, 0, "Rapportdatum: 2021-12-31").unwrap();
    for (c, h) in ["Personnummer", "Kön", "Startdatum", "Kommunkod", "Timmar"]
        .iter()
        .enumerate()
    {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    ws.write_string(4, 0, "199001012384").unwrap();
    ws.write_string(4, 1, "K").unwrap();
    ws.write_datetime_with_format(
        4,
        2,
        ExcelDateTime::from_ymd(2021, 2, 1).unwrap(),
        &date_fmt,
    )
    .unwrap();
    ws.write_number(4, 3, 767.0).unwrap();
    ws.write_number(4, 4, 7.5).unwrap();
    // An identifier typed as a number keeps all 12 digits; a serial number in a date column.
    ws.write_number(5, 0, 199001012384.0).unwrap();
    ws.write_number(5, 2, 44228.0).unwrap();
    ws.write_string(6, 0, "Summa").unwrap();
    wb.save(&path).unwrap();

    let o = ReadOptions {
        sheet: Some(SheetSel::Name("deltagare".into())),
        ..opts()
    };
    let (row, cols, before, rows, info) = read(
        &path,
        &o,
        &["Personnummer", "Startdatum", "Kommunkod"],
        None,
    )
    .unwrap();
    assert_eq!(info.sheet.as_deref(), Some("Deltagare"));
    assert_eq!(row, 4, "header auto-detected on Excel row 4");
    assert_eq!(before, 3, "two title rows and a blank row above the header");
    assert_eq!(cols, vec![Some(0), Some(2), Some(3)]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].row, 5);
    assert_eq!(text(&rows[0].cells[0]), "199001012384");
    assert_eq!(
        parse_date(&rows[0].cells[2], &formats(), false),
        Some(d(2021, 2, 1))
    );
    assert_eq!(
        followup::domain::normalise_kommunkod(&text(&rows[0].cells[3])).as_deref(),
        Some("0767"),
        "a kommunkod that lost its leading zero is re-padded"
    );
    assert_eq!(text(&rows[1].cells[0]), "199001012384");
    assert_eq!(
        parse_date(&rows[1].cells[2], &formats(), false),
        Some(d(2021, 2, 1))
    );
    assert_eq!(text(&rows[2].cells[0]), "Summa");

    // A sheet that does not exist is a clear error naming the sheets there are.
    let o = ReadOptions {
        sheet: Some(SheetSel::Name("Blad1".into())),
        ..opts()
    };
    let err = read(&path, &o, &["Personnummer"], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"Blad1\"") && err.contains("\"Deltagare\""),
        "{err}"
    );
}

#[test]
fn xls_and_ods_fixtures_read_the_same() {
    for name in ["deltagare.xls", "deltagare.ods"] {
        let (row, cols, before, rows, info) = read(
            &fixture(name),
            &opts(),
            &["Personnummer", "Startdatum", "Slutdatum", "Timmar"],
            None,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(row, 3, "{name}");
        assert_eq!(before, 2, "{name}: title row and blank row");
        assert_eq!(info.format.unwrap().as_str(), &name[10..], "{name}");
        assert_eq!(rows.len(), 3, "{name}");
        let c = |i: usize, f: usize| &rows[i].cells[cols[f].unwrap()];
        assert_eq!(text(c(0, 0)), "19900520-2446", "{name}");
        assert_eq!(text(c(1, 0)), "850312-1231", "{name}");
        assert_eq!(
            parse_date(c(0, 1), &formats(), false),
            Some(d(2021, 2, 1)),
            "{name}"
        );
        assert_eq!(
            parse_date(c(2, 1), &formats(), false),
            Some(d(2021, 4, 1)),
            "{name}"
        );
        assert_eq!(
            parse_date(c(0, 2), &formats(), false),
            Some(d(2021, 6, 30)),
            "{name}"
        );
        assert_eq!(parse_number(c(2, 3), false), Ok(Some(3.25)), "{name}");
        assert_eq!(rows[2].row, 6, "{name}");
    }
}

#[test]
fn windows_1252_semicolon_csv_with_decimal_comma() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gavle.csv");
    let text_1252 = "Deltagarlista Gävle\r\n\r\nPersonnr;Kön;Startdatum;Timmar\r\n199001012384;K;2021-02-01;7,5\r\n198503121231;M;20210301;1 234,25\r\n";
    let (bytes, _, bad) = encoding_rs::WINDOWS_1252.encode(text_1252);
    assert!(!bad);
    std::fs::write(&path, &bytes).unwrap();
    let (row, cols, before, rows, info) = read(
        &path,
        &opts(),
        &["Personnr", "Kön", "Startdatum", "Timmar"],
        None,
    )
    .unwrap();
    assert_eq!(info.encoding, Some("windows-1252"));
    assert_eq!(info.delimiter, Some(';'));
    assert_eq!(
        row, 3,
        "the header is on line 3 after a title line and a blank line"
    );
    assert_eq!(before, 1, "the blank line is not a record; the title is");
    assert_eq!(cols, vec![Some(0), Some(1), Some(2), Some(3)]);
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].row, rows[1].row), (4, 5));
    assert_eq!(parse_number(&rows[0].cells[3], true), Ok(Some(7.5)));
    assert_eq!(parse_number(&rows[1].cells[3], true), Ok(Some(1234.25)));
    assert!(
        parse_number(&rows[0].cells[3], false).is_err(),
        "7,5 needs decimal_comma"
    );
    assert_eq!(
        parse_date(&rows[1].cells[2], &formats(), false),
        Some(d(2021, 3, 1))
    );
    // The header "Kön" was decoded from byte 0xF6.
    let (_, cols, _, _, _) = read(&path, &opts(), &["KÖN"], None).unwrap();
    assert_eq!(cols, vec![Some(1)]);
}

#[test]
fn utf8_bom_comma_csv_with_quoted_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hudiksvall.csv");
    let content = "\u{feff}\"Personnummer\",\"Kön\",\"Anteckning\",\"Startdatum\"\n\"199001012384\",\"K\",\"rad ett\nrad två\",\"2021-02-01\"\n\"198503121231\",\"M\",\"\",\"2021-03-01 00:00:00\"\n";
    std::fs::write(&path, content).unwrap();
    let (row, cols, _, rows, info) = read(
        &path,
        &opts(),
        &["Personnummer", "Anteckning", "Startdatum"],
        None,
    )
    .unwrap();
    assert_eq!(info.encoding, Some("utf-8-bom"));
    assert_eq!(info.delimiter, Some(','));
    assert_eq!(row, 1, "the BOM is not part of the first header");
    assert_eq!(cols, vec![Some(0), Some(2), Some(3)]);
    assert_eq!(text(&rows[0].cells[2]), "rad ett\nrad två");
    assert_eq!(rows[0].row, 2);
    assert_eq!(
        rows[1].row, 4,
        "the second record starts after the two-line field"
    );
    assert_eq!(
        parse_date(&rows[1].cells[3], &formats(), false),
        Some(d(2021, 3, 1))
    );
}

#[test]
fn tab_separated_text_and_explicit_header_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.txt");
    std::fs::write(&path, "Rapport\nPnr\tStart\n199001012384\t2021-02-01\n").unwrap();
    let (row, cols, before, rows, info) = read(
        &path,
        &opts(),
        &["Pnr", "Start"],
        Some(HeaderRowSel::Row(2)),
    )
    .unwrap();
    assert_eq!(info.delimiter, Some('\t'));
    assert_eq!((row, before, rows.len()), (2, 1, 1));
    assert_eq!(cols, vec![Some(0), Some(1)]);
}

#[test]
fn missing_required_column_names_what_was_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("utan_pnr.csv");
    std::fs::write(&path, "Namn;Startdatum\nAnna;2021-02-01\n").unwrap();
    let err = read(
        &path,
        &opts(),
        &["Personnummer", "Startdatum"],
        Some(HeaderRowSel::Row(1)),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("missing required column \"Personnummer\""),
        "{err}"
    );
    assert!(err.contains("\"Startdatum\""), "{err}");
    let err = read(&path, &opts(), &["Personnummer", "Startdatum"], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("header row not found"), "{err}");
}

#[test]
fn broken_files_get_one_clear_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("empty.xlsx"), b"").unwrap();
    std::fs::write(
        p("page.xls"),
        b"<html><body><table><tr><td>Pnr</td></tr></table></body></html>",
    )
    .unwrap();
    // A truncated xlsx: the first 300 bytes of a real one.
    let mut wb = Workbook::new();
    wb.add_worksheet()
        .write_string(0, 0, "Personnummer")
        .unwrap();
    let full = wb.save_to_buffer().unwrap();
    std::fs::write(p("cut.xlsx"), &full[..300]).unwrap();
    // A CSV renamed to .xlsx is read by its content, with a warning.
    std::fs::write(
        p("renamed.xlsx"),
        "Personnummer;Startdatum\n199001012384;2021-02-01\n",
    )
    .unwrap();

    let err = |n: &str| ingest::open(&p(n), &opts()).err().map(|e| e.to_string());
    assert_eq!(
        err("empty.xlsx").as_deref(),
        Some("the file is empty (0 bytes)")
    );
    assert!(err("page.xls").unwrap().contains("HTML"));
    assert!(err("cut.xlsx")
        .unwrap()
        .contains("corrupt or truncated xlsx"));
    let src = ingest::open(&p("renamed.xlsx"), &opts()).unwrap();
    assert!(src.info().warnings[0].contains("named .xlsx but its content is csv"));
}

#[test]
fn excel_serials_follow_the_1900_system() {
    assert_eq!(excel_serial_to_date(44197.0), Some(d(2021, 1, 1)));
    assert_eq!(excel_serial_to_date(59.0), Some(d(1900, 2, 28)));
    assert_eq!(excel_serial_to_date(60.0), None, "1900-02-29 never existed");
    assert_eq!(excel_serial_to_date(61.0), Some(d(1900, 3, 1)));
    assert_eq!(excel_serial_to_date(0.0), None);
    // Text dates only in the declared formats; anything else is rejected, never guessed.
    assert_eq!(
        parse_date(&Cell::Text("1/2".into()), &formats(), false),
        None
    );
    assert_eq!(
        parse_date(&Cell::Text("2021-02-30".into()), &formats(), false),
        None
    );
    assert_eq!(
        parse_date(&Cell::Text("01.02.2021".into()), &formats(), false),
        None
    );
    assert_eq!(
        parse_date(
            &Cell::Text("01.02.2021".into()),
            &["%d.%m.%Y".to_string()],
            false
        ),
        Some(d(2021, 2, 1))
    );
    // 20210201 typed as a number is YYYYMMDD when the source accepts it, not serial 20 million.
    assert_eq!(
        parse_date(&Cell::Number(20210201.0), &formats(), false),
        Some(d(2021, 2, 1))
    );
    assert_eq!(
        parse_date(&Cell::Number(20210201.0), &["%Y-%m-%d".into()], false),
        None
    );
}

/// A workbook in the 1904 date system (Excel for Mac before 2011, or "Use 1904 date system" ticked):
/// serials count from 1904-01-01. Date-formatted cells and plain numbers in a date column (a General-
/// formatted date, a formula's result) both give the date the workbook means, streamed and held whole;
/// the same serial in a 1900 workbook is another day, 1 462 days earlier.
#[test]
fn xlsx_in_the_1904_date_system_gives_the_dates_it_means() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mac.xlsx");
    let start = d(2021, 2, 1);
    let end = d(2021, 6, 30);
    let serial_1904 = |day: NaiveDate| (day - d(1904, 1, 1)).num_days() as f64;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(0, 0, "Startdatum").unwrap();
    ws.write_string(0, 1, "Slutdatum").unwrap();
    ws.write_number_with_format(1, 0, serial_1904(start), &date)
        .unwrap();
    ws.write_number(1, 1, serial_1904(end)).unwrap();
    wb.save(&path).unwrap();
    let plain = dir.path().join("plain.xlsx");
    std::fs::copy(&path, &plain).unwrap();
    rewrite_xlsx_part(&path, "xl/workbook.xml", |xml| {
        assert!(xml.contains("<workbookPr"), "{xml}");
        xml.replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
    });
    for whole_sheet in [false, true] {
        let o = ReadOptions {
            whole_sheet,
            ..opts()
        };
        let (_, cols, _, rows, info) = read(&path, &o, &["Startdatum", "Slutdatum"], None).unwrap();
        assert!(info.date_1904, "the workbook's date system is read");
        let cell = |f: usize| &rows[0].cells[cols[f].unwrap()];
        assert!(matches!(cell(0), Cell::DateTime(_)), "{:?}", cell(0));
        assert!(matches!(cell(1), Cell::Number(_)), "{:?}", cell(1));
        assert_eq!(parse_date(cell(0), &formats(), info.date_1904), Some(start));
        assert_eq!(parse_date(cell(1), &formats(), info.date_1904), Some(end));
        let (_, cols, _, rows, info) =
            read(&plain, &o, &["Startdatum", "Slutdatum"], None).unwrap();
        assert!(!info.date_1904);
        let later = |day: NaiveDate| day - chrono::Duration::days(1462);
        assert_eq!(
            parse_date(&rows[0].cells[cols[1].unwrap()], &formats(), false),
            Some(later(end))
        );
    }
}

/// Every row of a file, as (row number, cells).
fn all_rows(path: &Path, o: &ReadOptions) -> Result<Vec<(u64, Vec<Cell>)>, ReadError> {
    let mut src = ingest::open(path, o)?;
    let mut rows = Vec::new();
    while let Some(r) = src.next_row()? {
        rows.push((r.row, r.cells));
    }
    Ok(rows)
}

#[test]
fn xlsx_rows_stream_as_a_held_sheet_gives_them_and_a_sheet_out_of_order_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ovanaker.xlsx");
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let report = ExcelDateTime::from_ymd(2021, 12, 31).unwrap();
    // Title, a report date in B2, a blank row 3, the header on row 4; data with a blank row 7, gaps
    // between cells, and a stray value far to the right on the last row.
    ws.write_string(0, 0, "Deltagarlista – Ovanåker").unwrap();
    ws.write_datetime_with_format(1, 1, &report, &date_fmt)
        .unwrap();
    for (c, h) in ["Personnummer", "Kön", "Startdatum"].iter().enumerate() {
        ws.write_string(3, c as u16, *h).unwrap();
    }
    // (Identifiers here are placeholders: only cells are compared.)
    for (r, id) in [(4, "deltagare 1"), (5, "deltagare 2"), (7, "deltagare 3")] {
        ws.write_string(r, 0, id).unwrap();
        ws.write_number(r, 2, 44228.0 + f64::from(r)).unwrap();
    }
    ws.write_string(5, 1, "M").unwrap();
    ws.write_string(8, 0, "Summa").unwrap();
    ws.write_string(8, 30, "x").unwrap();
    wb.save(&path).unwrap();

    let held = ReadOptions {
        whole_sheet: true,
        ..opts()
    };
    let streamed = all_rows(&path, &opts()).unwrap();
    assert_eq!(streamed, all_rows(&path, &held).unwrap());
    let numbers: Vec<u64> = streamed.iter().map(|r| r.0).collect();
    assert_eq!(
        numbers,
        (1..=9).collect::<Vec<_>>(),
        "blank rows 3 and 7 included"
    );
    assert!(streamed[2].1.is_empty() && streamed[6].1.is_empty());
    assert_eq!(streamed[8].1.len(), 31);
    assert_eq!(text(&streamed[8].1[30]), "x");

    // A cell asked for before the rows (export_date = { from = "cell" }) is found ahead; the rows read to
    // reach it are still returned, in order.
    let mut src = ingest::open(&path, &opts()).unwrap();
    let b2 = src.cell_at(1, 1).expect("B2 holds the report date");
    assert_eq!(parse_date(&b2, &formats(), false), Some(d(2021, 12, 31)));
    assert_eq!(src.cell_at(8, 30).map(|c| text(&c)).as_deref(), Some("x"));
    assert_eq!(src.cell_at(2, 0), None, "row 3 is blank");
    let mut again = Vec::new();
    while let Some(r) = src.next_row().unwrap() {
        again.push((r.row, r.cells));
    }
    assert_eq!(again, streamed);

    // The first data row listed after the last: streaming stops where order breaks; the sheet held whole
    // is the same sheet.
    move_xlsx_row_to_end(&path, "sheet1", 5);
    match all_rows(&path, &opts()) {
        Err(ReadError::OutOfOrder { row: 5, col: 1 }) => {}
        other => panic!("expected cells out of order at row 5, column 1, got {other:?}"),
    }
    assert_eq!(all_rows(&path, &held).unwrap(), streamed);
}

#[test]
fn columns_no_mapping_reads_are_left_undecoded_but_blank_and_total_rows_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ljusdal.csv");
    let text_1252 = "Namn;Personnr;Startdatum;Adress\r\n\
                     Åsa Öberg;199001012384;2021-02-01;Storgatan 1\r\n\
                     Summa;;;\r\n\
                     ;;;Bakgatan 2\r\n\
                     ;;;\r\n";
    let (bytes, _, bad) = encoding_rs::WINDOWS_1252.encode(text_1252);
    assert!(!bad);
    std::fs::write(&path, &bytes).unwrap();
    let mut src = ingest::open(&path, &opts()).unwrap();
    let asked = vec![
        ("Personnr".to_string(), true),
        ("Startdatum".to_string(), true),
    ];
    let (header, pending) = ingest::find_header(src.as_mut(), None, &asked).unwrap();
    assert!(pending.is_empty());
    assert_eq!(header.columns, vec![Some(1), Some(2)]);
    src.keep_columns(&[1, 2]);
    let mut rows = Vec::new();
    while let Some(r) = src.next_row().unwrap() {
        rows.push(r);
    }
    assert_eq!(rows.len(), 4);
    // The first non-blank cell is always decoded (a total row is recognised by it) ...
    assert_eq!(text(&rows[0].cells[0]), "Åsa Öberg");
    assert_eq!(text(&rows[0].cells[2]), "2021-02-01");
    // ... after it, columns no mapping reads are not turned into text.
    assert_eq!(rows[0].cells[3], Cell::Unread);
    assert_eq!(text(&rows[1].cells[0]), "Summa");
    // A row holding only an unmapped value is not blank; an empty row is.
    assert_eq!(text(&rows[2].cells[3]), "Bakgatan 2");
    assert!(!rows[2].cells.iter().all(Cell::is_blank));
    assert!(rows[3].cells.iter().all(Cell::is_blank));
}

#[test]
fn numbers_in_text_cells_short_and_long() {
    let t = |s: &str| Cell::Text(s.into());
    // Short ASCII numbers (parsed from a stack buffer) and numbers with spaces (the general path) agree.
    assert_eq!(parse_number(&t("7,5"), true), Ok(Some(7.5)));
    assert_eq!(parse_number(&t(" 1 234,5 "), true), Ok(Some(1234.5)));
    assert_eq!(parse_number(&t("1\u{a0}234,5"), true), Ok(Some(1234.5)));
    assert_eq!(parse_number(&t("-2"), true), Ok(Some(-2.0)));
    assert_eq!(parse_number(&t("7.5"), false), Ok(Some(7.5)));
    assert_eq!(parse_number(&t("   "), true), Ok(None));
    // The other separator, words and infinities are not numbers; the raw text comes back.
    assert_eq!(parse_number(&t("7.5"), true), Err("7.5".to_string()));
    assert_eq!(parse_number(&t("7,5"), false), Err("7,5".to_string()));
    assert_eq!(
        parse_number(&t("1 234.5"), true),
        Err("1 234.5".to_string())
    );
    assert_eq!(parse_number(&t("sju"), false), Err("sju".to_string()));
    assert_eq!(parse_number(&t("inf"), false), Err("inf".to_string()));
    // Longer than the stack buffer: still read.
    let long = format!("0,{}5", "0".repeat(70));
    assert_eq!(parse_number(&t(&long), true), Ok(Some(5e-71)));
}
