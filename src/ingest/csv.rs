//! Delimited text (csv/txt): an RFC 4180 parser over raw bytes, each field decoded as it streams by.
//! Encoding: a BOM decides (UTF-8, UTF-16); else the source's setting; else strict UTF-8 if the first 64 KiB
//! are valid UTF-8, otherwise Windows-1252 (what Swedish Excel writes). A field that is not valid UTF-8 in a
//! UTF-8 file is decoded as Windows-1252 and counted as a warning, never replaced by U+FFFD silently; likewise
//! a field that is valid, non-ASCII UTF-8 in a file detected as Windows-1252 is read as UTF-8 and counted (a
//! file pasted together from two exports), so neither half turns into mojibake.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use smol_str::SmolStr;

use super::{Cell, FileInfo, Format, RawRow, ReadError, ReadOptions, RowSource};
use crate::config::Encoding;

const SNIFF_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Windows1252,
    /// Windows-1252 by detection (`encoding = "auto"`): a field that is valid UTF-8 with non-ASCII characters
    /// is read as UTF-8 (a file pasted together from two exports), counted as a warning.
    Windows1252Detected,
}

/// Records where each physical line starts and whether it is blank (only `\r`), so a record's first line
/// can be named exactly (the csv crate's positions are taken before it skips blank lines).
struct LineTracker<R> {
    inner: R,
    offset: u64,
    line_start: u64,
    line_blank: bool,
    /// (start offset, blank) of complete lines not yet passed.
    lines: std::collections::VecDeque<(u64, bool)>,
    /// Lines already passed (popped).
    passed: u64,
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let data = &buf[..n];
        let only_cr = |seg: &[u8]| seg.iter().all(|&b| b == b'\r');
        let mut pos = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            let blank = self.line_blank && only_cr(&data[pos..nl]);
            self.lines.push_back((self.line_start, blank));
            self.line_start = self.offset + nl as u64 + 1;
            self.line_blank = true;
            pos = nl + 1;
        }
        self.line_blank = self.line_blank && only_cr(&data[pos..]);
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineTracker<R> {
    fn new(inner: R) -> Self {
        LineTracker {
            inner,
            offset: 0,
            line_start: 0,
            line_blank: true,
            lines: std::collections::VecDeque::new(),
            passed: 0,
        }
    }

    /// 1-based number of the first non-blank line starting at or after byte `from`.
    fn record_line(&mut self, from: u64) -> u64 {
        while let Some(&(start, blank)) = self.lines.front() {
            if start < from || blank {
                self.lines.pop_front();
                self.passed += 1;
            } else {
                return self.passed + 1;
            }
        }
        // The record is on the last, unterminated line.
        self.passed + 1
    }
}

pub struct CsvSource {
    reader: csv::Reader<LineTracker<Box<dyn Read + Send>>>,
    record: csv::ByteRecord,
    enc: Enc,
    reencoded: u64,
    /// Columns the mappings read (`keep_columns`); empty until the header is found, then all are decoded.
    keep: Vec<bool>,
    info: FileInfo,
}

fn valid_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        // An incomplete sequence cut at the end of the sample is fine.
        Err(e) => e.error_len().is_none(),
    }
}

fn sniff_delimiter(sample: &[u8]) -> u8 {
    let candidates = [b';', b',', b'\t', b'|'];
    let mut best = (b';', 0usize);
    for &d in &candidates {
        let mut max = 0;
        let mut in_quotes = false;
        let mut count = 0;
        let mut lines = 0;
        for &b in sample {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    max = max.max(count);
                    count = 0;
                    lines += 1;
                    if lines >= 30 {
                        break;
                    }
                }
                _ if b == d && !in_quotes => count += 1,
                _ => {}
            }
        }
        max = max.max(count);
        if max > best.1 {
            best = (d, max);
        }
    }
    best.0
}

impl CsvSource {
    pub fn open(path: &Path, opts: &ReadOptions, warnings: Vec<String>) -> Result<Self, ReadError> {
        let mut file = File::open(path)?;
        let mut sample = Vec::with_capacity(SNIFF_BYTES);
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut sample)?;
        let (bom_len, utf16) = if sample.starts_with(&[0xEF, 0xBB, 0xBF]) {
            (3, false)
        } else if sample.starts_with(&[0xFF, 0xFE]) || sample.starts_with(&[0xFE, 0xFF]) {
            (0, true)
        } else {
            (0, false)
        };
        file.seek(SeekFrom::Start(bom_len as u64))?;
        let (enc, enc_name, reader): (Enc, &'static str, Box<dyn Read + Send>) = if utf16 {
            // Excel's "Unicode text": UTF-16 with BOM; transcode to UTF-8 as it streams.
            let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
                .bom_sniffing(true)
                .build(file);
            // The decoded sample is needed for delimiter sniffing.
            let (s, _, _) = if sample.starts_with(&[0xFF, 0xFE]) {
                encoding_rs::UTF_16LE.decode(&sample)
            } else {
                encoding_rs::UTF_16BE.decode(&sample)
            };
            sample = s.into_owned().into_bytes();
            (
                Enc::Utf8,
                "utf-16",
                Box::new(BufReader::with_capacity(1 << 16, decoded)),
            )
        } else {
            let enc = match opts.encoding {
                Encoding::Utf8 => Enc::Utf8,
                Encoding::Windows1252 => Enc::Windows1252,
                Encoding::Auto if bom_len == 3 || valid_utf8_prefix(&sample) => Enc::Utf8,
                Encoding::Auto => Enc::Windows1252Detected,
            };
            let name = match (enc, bom_len) {
                (Enc::Utf8, 3) => "utf-8-bom",
                (Enc::Utf8, _) => "utf-8",
                (Enc::Windows1252 | Enc::Windows1252Detected, _) => "windows-1252",
            };
            (enc, name, Box::new(BufReader::with_capacity(1 << 16, file)))
        };
        let delimiter = opts
            .delimiter
            .unwrap_or_else(|| sniff_delimiter(&sample[bom_len.min(sample.len())..]));
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(LineTracker::new(reader));
        Ok(CsvSource {
            reader,
            record: csv::ByteRecord::new(),
            enc,
            reencoded: 0,
            keep: Vec::new(),
            info: FileInfo {
                format: Some(Format::Csv),
                sheet: None,
                encoding: Some(enc_name),
                delimiter: Some(delimiter as char),
                warnings,
                date_1904: false,
            },
        })
    }

    /// A field as text: borrowed from the record while decoding (ASCII decodes in place), then stored
    /// inline when short, so most fields allocate nothing.
    fn decode(&mut self, bytes: &[u8]) -> SmolStr {
        let cp1252 = |bytes| {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        };
        match self.enc {
            Enc::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => SmolStr::new(s),
                Err(_) => {
                    self.reencoded += 1;
                    SmolStr::new(cp1252(bytes))
                }
            },
            Enc::Windows1252 => SmolStr::new(cp1252(bytes)),
            Enc::Windows1252Detected => match std::str::from_utf8(bytes) {
                Ok(s) if !s.is_ascii() => {
                    self.reencoded += 1;
                    SmolStr::new(s)
                }
                _ => SmolStr::new(cp1252(bytes)),
            },
        }
    }
}

impl RowSource for CsvSource {
    fn next_row(&mut self) -> Result<Option<RawRow>, ReadError> {
        let mut record = std::mem::take(&mut self.record);
        let more = self
            .reader
            .read_byte_record(&mut record)
            .map_err(|e| ReadError::Csv {
                line: e.position().map_or(0, |p| p.line()),
                detail: e.to_string(),
            })?;
        if !more {
            self.record = record;
            if self.reencoded > 0 {
                let w = if self.enc == Enc::Utf8 {
                    format!(
                        "{} field(s) were not valid UTF-8 and were read as Windows-1252 (mixed encodings in one file)",
                        self.reencoded
                    )
                } else {
                    format!(
                        "{} field(s) were UTF-8 in a Windows-1252 file and were read as UTF-8 (mixed encodings in one file)",
                        self.reencoded
                    )
                };
                self.info.warnings.push(w);
                self.reencoded = 0;
            }
            return Ok(None);
        }
        let from = record.position().map_or(0, |p| p.byte());
        let line = self.reader.get_mut().record_line(from);
        let mut cells = Vec::with_capacity(record.len());
        let mut non_blank = false;
        for (i, field) in record.iter().enumerate() {
            if field.is_empty() {
                cells.push(Cell::Empty);
            } else if non_blank
                && !self.keep.is_empty()
                && !self.keep.get(i).copied().unwrap_or(false)
            {
                cells.push(Cell::Unread);
            } else {
                let text = self.decode(field);
                non_blank = non_blank || !text.trim().is_empty();
                cells.push(Cell::Text(text));
            }
        }
        self.record = record;
        Ok(Some(RawRow { row: line, cells }))
    }

    fn info(&self) -> &FileInfo {
        &self.info
    }

    fn keep_columns(&mut self, columns: &[usize]) {
        let width = columns.iter().max().map_or(0, |m| m + 1);
        self.keep = vec![false; width];
        for &c in columns {
            self.keep[c] = true;
        }
    }
}
