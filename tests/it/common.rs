//! Helpers shared by the integration tests: synthetic personnummer, running the real binary.

use std::path::Path;
use std::process::{Command, Output};

/// Luhn check digit over the nine digits YYMMDDNNN.
pub fn luhn(nine: &str) -> u32 {
    let mut sum = 0;
    for (i, c) in nine.chars().enumerate() {
        let p = c.to_digit(10).unwrap() * if i % 2 == 0 { 2 } else { 1 };
        sum += p / 10 + p % 10;
    }
    (10 - sum % 10) % 10
}

/// A synthetic, checksum-valid number in the 12-digit form with a hyphen: YYYYMMDD-NNNC.
pub fn pnr(year: i32, month: u32, day: u32, serial: u32) -> String {
    let nine = format!("{:02}{month:02}{day:02}{serial:03}", year % 100);
    format!("{year}{month:02}{day:02}-{serial:03}{}", luhn(&nine))
}

/// The same number without century: YYMMDD-NNNC.
pub fn short(p: &str) -> String {
    p[2..].to_string()
}

pub const TEST_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

pub fn followup(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_followup"))
        .current_dir(dir)
        .env("FOLLOWUP_HMAC_KEY", TEST_KEY)
        .env_remove("FOLLOWUP_LOG")
        .args(args)
        .output()
        .expect("the followup binary runs")
}

/// Run a query through the real CLI and return its CSV rows (header first).
pub fn query_csv(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let out = followup(dir, &["query", "--format", "csv", sql]);
    assert!(
        out.status.success(),
        "query failed: {sql}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(out.stdout.as_slice());
    rdr.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Rewrite an xlsx file so that one row of a sheet (`sheet` as in `xl/worksheets/sheet1.xml`, `row`
/// 1-based) is listed last, after the rows below it: the format allows it, though common writers keep
/// rows in order.
pub fn move_xlsx_row_to_end(path: &Path, sheet: &str, row: u32) {
    rewrite_xlsx_part(path, &format!("xl/worksheets/{sheet}.xml"), |xml| {
        let start = xml
            .find(&format!("<row r=\"{row}\""))
            .expect("the row is in the sheet");
        let end = start + xml[start..].find("</row>").expect("the row ends") + "</row>".len();
        let rest = format!("{}{}", &xml[..start], &xml[end..]);
        let at = rest.find("</sheetData>").expect("the sheet has data");
        format!("{}{}{}", &rest[..at], &xml[start..end], &rest[at..])
    });
}

/// Rewrite one XML part of an xlsx (a real writer's file) in place, keeping every other part as it was.
pub fn rewrite_xlsx_part(path: &Path, part: &str, edit: impl FnOnce(&str) -> String) {
    use std::io::{Read, Write};
    let mut zin = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut entries = Vec::new();
    for i in 0..zin.len() {
        let mut f = zin.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        entries.push((f.name().unwrap().to_string(), data));
    }
    drop(zin);
    let mut out = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut edit = Some(edit);
    for (name, mut data) in entries {
        if name == part {
            let xml = String::from_utf8(data).unwrap();
            let edit = edit.take().expect("one part of that name");
            data = edit(&xml).into_bytes();
        }
        out.start_file(name, options).unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap();
    assert!(edit.is_none(), "{part} is in the workbook");
}
