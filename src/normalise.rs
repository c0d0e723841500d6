//! Normalise and validate: rows of cells from any reader → canonical enrolment / activity records, or
//! rejects naming the rule broken. Knows the pipeline's mappings and the Swedish rules, nothing of formats.
//! Identity numbers are pseudonymised here and go no further.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate};
use foldhash::{HashMap as FastMap, HashSet as FastSet};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Pipeline, Source, SourceKind};
use crate::domain::{self, fold_header, fold_key, mask, CanonicalField};
use crate::ingest::{Cell, RawRow};

/// A rejected value is kept for the analyst to find the row, not to archive it: at most this many characters.
pub const MAX_RAW_CHARS: usize = 200;

/// Cut a (masked) raw value to [`MAX_RAW_CHARS`] characters, marking the cut with its full length.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_RAW_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} characters)", &s[..i], s.chars().count()),
    }
}

/// Lowercase hex of a pseudonym, through a stack buffer (`hex::encode` goes character by character).
fn hex_digest(digest: &[u8; PSEUDONYM_BYTES]) -> String {
    let mut buf = [0u8; 2 * PSEUDONYM_BYTES];
    // The buffer is exactly twice the digest, so encoding cannot fail; hex digits are ASCII.
    let _ = hex::encode_to_slice(digest, &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Whether a row's first text names a total ("Summa", "Totalt", "Total", "Antal" …), as
/// `fold_key(t).starts_with(word)` would decide, without folding texts that cannot match.
fn is_total_label(t: &str) -> bool {
    const WORDS: [&str; 4] = ["summa", "totalt", "total", "antal"];
    let t = t.trim_start();
    match t.chars().next() {
        None => false,
        // Most first cells are numbers, codes or names: an ASCII first letter settles most of them.
        Some(c) if c.is_ascii() && !matches!(c.to_ascii_lowercase(), 's' | 't' | 'a') => false,
        Some(_) => {
            let k = fold_key(t);
            WORDS.iter().any(|w| k.starts_with(w))
        }
    }
}

/// Bytes of the HMAC kept as the pseudonym: its first 128 bits (HMAC-SHA-256-128, RFC 4231 §4.6; DOMAIN.md:
/// "128 bits stored is enough": among ten million people the chance that any two share one is about
/// 10^-25). Half the full digest's 64 hex characters, which every join, sort and Parquet page of the models
/// carries.
pub const PSEUDONYM_BYTES: usize = 16;

/// Keyed pseudonymisation: participant_id = hex of the first 128 bits of HMAC-SHA256(key, canonical
/// 12-character number), 32 lowercase hex digits.
/// The keyed state is built once and cloned per number. Digests are cached per distinct number, shared by
/// the threads that read files in parallel, in a bounded table (compact keys and values), so memory stays
/// flat however many people a run sees: past [`CACHE_ENTRIES`] numbers a shard is emptied and refilled.
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
    shards: Vec<Mutex<FastMap<[u8; 16], [u8; PSEUDONYM_BYTES]>>>,
    /// Short public fingerprint of the pseudonym function — the key and the scheme — so analysts can see
    /// when participant ids changed (linkage breaks); staged files cached under another fingerprint are
    /// normalised again. "v2" is the 128-bit pseudonym (v1 kept all 256 bits).
    pub fingerprint: String,
}

const CACHE_SHARDS: usize = 16;
/// At most 917 504 numbers (about 35 MB): each shard stops at 7/8 of a 65 536-slot hash table, the most
/// such a table holds before it doubles (a round 2^16 per shard doubled them all: 100 MB).
pub const CACHE_ENTRIES: usize = CACHE_SHARDS * (65536 / 8 * 7);

impl Pseudonymiser {
    pub fn new(key: &[u8]) -> Self {
        // HMAC accepts keys of any length; new_from_slice cannot fail for HMAC.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
        let mut fp = mac.clone();
        fp.update(b"followup key fingerprint v2");
        let fingerprint = hex::encode(&fp.finalize().into_bytes()[..6]);
        Pseudonymiser {
            mac,
            shards: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(FastMap::default()))
                .collect(),
            fingerprint,
        }
    }

    /// The participant id of a canonical number, as lowercase hex.
    pub fn pseudonym(&self, canonical: &str) -> String {
        hex_digest(&self.digest(canonical))
    }

    /// The pseudonym of a canonical number as bytes: the first [`PSEUDONYM_BYTES`] of its HMAC.
    pub fn digest(&self, canonical: &str) -> [u8; PSEUDONYM_BYTES] {
        let bytes = canonical.as_bytes();
        if bytes.len() >= 16 {
            return self.compute(bytes);
        }
        let mut key = [0u8; 16];
        key[..bytes.len()].copy_from_slice(bytes);
        key[15] = bytes.len() as u8;
        let shard = key
            .iter()
            .fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
        let shard = &self.shards[shard % CACHE_SHARDS];
        if let Some(d) = lock(shard).get(&key) {
            return *d;
        }
        let d = self.compute(bytes);
        let mut map = lock(shard);
        if map.len() >= CACHE_ENTRIES / CACHE_SHARDS {
            map.clear();
        }
        map.insert(key, d);
        d
    }

    fn compute(&self, bytes: &[u8]) -> [u8; PSEUDONYM_BYTES] {
        let mut m = self.mac.clone();
        m.update(bytes);
        let mut out = [0u8; PSEUDONYM_BYTES];
        out.copy_from_slice(&m.finalize().into_bytes()[..PSEUDONYM_BYTES]);
        out
    }
}

/// The key of the duplicate rule for (person, sub-project, start date, activity type) in 16 bytes, as a
/// file of millions of rows keeps one per row (three times smaller than the tuple it replaces, and hashed
/// faster): the first half of the person's pseudonym, and its second half XOR the sub-project, the start day and
/// the activity type packed side by side (24, 32 and 8 bits). For one person the packing is one-to-one (below
/// 16 million sub-projects), so two rows share a key exactly when they are duplicates; rows of two people
/// would need the same 128-bit pseudonym.
fn duplicate_key(
    digest: &[u8; PSEUDONYM_BYTES],
    sp_index: usize,
    start: NaiveDate,
    activity: &str,
) -> u128 {
    use std::hash::BuildHasher;
    let half = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&digest[at..at + 8]);
        u64::from_le_bytes(b)
    };
    // 0 for none, 1..=15 for a canonical type; any other text (not expected: mapped values are checked
    // against the canonical list) is hashed into the high half, where it can only collide by chance.
    let (activity_code, other) = if activity.is_empty() {
        (0u64, 0u64)
    } else {
        match domain::ACTIVITY_TYPES.iter().position(|t| *t == activity) {
            Some(i) => (i as u64 + 1, 0),
            None => (
                0xff,
                foldhash::quality::FixedState::with_seed(0).hash_one(activity),
            ),
        }
    };
    let day = u64::from(start.num_days_from_ce() as u32);
    let packed = (sp_index as u64) << 40 ^ day << 8 ^ activity_code;
    u128::from(half(0) ^ other) << 64 | u128::from(half(8) ^ packed)
}

/// A poisoned cache shard only means another thread panicked mid-insert; the map itself is still sound.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone)]
pub struct Lineage {
    pub source_file: Arc<str>,
    pub source_sheet: Option<Arc<str>>,
    pub source_row: u64,
    pub export_date: NaiveDate,
}

#[derive(Debug, Clone)]
pub struct Enrolment {
    pub project_id: Arc<str>,
    pub subproject_id: Arc<str>,
    pub municipality_code: Arc<str>,
    pub county_code: Arc<str>,
    pub participant_id: String,
    pub id_kind: &'static str,
    pub gender: &'static str,
    pub gender_mismatch: bool,
    pub birth_year: i32,
    pub age_at_start: i64,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub exit_outcome: Option<&'static str>,
    pub exit_reason_raw: Option<String>,
    pub subsidised_employment: Option<bool>,
    pub qualification_gained: Option<bool>,
    pub referral_source: Option<&'static str>,
    pub education_level: Option<&'static str>,
    pub labour_status_at_entry: Option<&'static str>,
    pub long_term_unemployed: Option<bool>,
    pub foreign_born: Option<&'static str>,
    pub third_country_national: Option<&'static str>,
    pub disability: Option<&'static str>,
    pub hours: Option<f64>,
    pub activity_type: Option<&'static str>,
    pub lineage: Lineage,
}

#[derive(Debug, Clone)]
pub struct Activity {
    pub project_id: Arc<str>,
    pub subproject_id: Arc<str>,
    pub municipality_code: Arc<str>,
    pub participant_id: String,
    pub activity_type: &'static str,
    pub activity_raw: String,
    pub provider: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub hours: Option<f64>,
    pub lineage: Lineage,
}

#[derive(Debug, Clone)]
pub struct Reject {
    pub rule: &'static str,
    pub column: Option<String>,
    pub message: String,
    /// The offending value with any identity number masked.
    pub raw_value: Option<String>,
}

pub enum RowOutcome {
    Skipped(&'static str),
    Enrolment(Box<Enrolment>),
    Activity(Box<Activity>),
    Rejected(Vec<Reject>),
}

/// Everything needed to normalise the rows of one file, resolved once per file.
pub struct FileContext<'a> {
    pipeline: &'a Pipeline,
    source: &'a Source,
    /// Per field (indexed by the field): (column index, header text) when the header has it.
    columns: Vec<Option<(usize, String)>>,
    values: HashMap<&'static str, HashMap<String, String>>,
    date_formats: Vec<String>,
    /// The workbook's date serials count from 1904 (see [`crate::ingest::FileInfo::date_1904`]).
    pub date_1904: bool,
    export_date: NaiveDate,
    source_file: Arc<str>,
    source_sheet: Option<Arc<str>>,
    /// Shared per-file strings, one clone per row instead of one allocation: the project id and, per
    /// sub-project, its id, municipality code and county code.
    project_id: Arc<str>,
    subproject_ids: Vec<(Arc<str>, Arc<str>, Arc<str>)>,
    /// Keys already loaded from this file (the duplicate rule), 16 bytes each: see [`duplicate_key`].
    seen: FastSet<u128>,
    subproject_keys: HashMap<String, usize>,
    /// Raw value → mapped value, per field (bounded: free text would otherwise grow it with the file).
    value_memo: RefCell<FastMap<&'static str, FastMap<String, Option<&'static str>>>>,
    /// Raw sub-project / kommun cell → sub-project index (bounded like `value_memo`).
    subproject_memo: RefCell<[FastMap<String, Option<usize>>; 2]>,
}

const VALUE_MEMO_ENTRIES: usize = 4096;

/// The mapped fields of a source, in a fixed order, with whether each is required.
pub fn wanted_headers(source: &Source) -> Vec<(CanonicalField, String, bool)> {
    let required = domain::required_fields(source.kind);
    let mut out: Vec<(CanonicalField, String, bool)> = source
        .columns
        .iter()
        .filter_map(|(k, v)| {
            CanonicalField::parse(k).map(|f| (f, v.clone(), required.contains(&f)))
        })
        .collect();
    out.sort_by_key(|(f, _, _)| *f);
    out
}

impl<'a> FileContext<'a> {
    pub fn new(
        pipeline: &'a Pipeline,
        source: &'a Source,
        header_columns: &[(CanonicalField, String, Option<usize>)],
        export_date: NaiveDate,
        source_file: String,
        source_sheet: Option<String>,
    ) -> Self {
        let mut columns = vec![None; domain::ALL_FIELDS.len()];
        for (f, h, c) in header_columns {
            if let Some(c) = c {
                columns[*f as usize] = Some((*c, h.clone()));
            }
        }
        let mut values: HashMap<&'static str, HashMap<String, String>> = HashMap::new();
        for field in domain::VALUE_MAPPED_FIELDS
            .iter()
            .chain(["subproject"].iter())
        {
            let mut m = HashMap::new();
            for layer in [&pipeline.file.values, &source.values] {
                if let Some(map) = layer.get(*field) {
                    for (k, v) in map {
                        m.insert(fold_key(k), v.clone());
                    }
                }
            }
            values.insert(field, m);
        }
        let mut subproject_keys = HashMap::new();
        for (i, sp) in pipeline.file.subprojects.iter().enumerate() {
            subproject_keys.insert(fold_header(&sp.id), i);
            subproject_keys.insert(fold_header(&sp.name), i);
        }
        FileContext {
            pipeline,
            source,
            columns,
            values,
            date_formats: source.date_formats.clone(),
            date_1904: false,
            export_date,
            source_file: source_file.into(),
            source_sheet: source_sheet.map(Into::into),
            project_id: pipeline.file.project.id.as_str().into(),
            subproject_ids: pipeline
                .file
                .subprojects
                .iter()
                .map(|sp| {
                    let m = sp.municipality_code.as_str();
                    (
                        sp.id.as_str().into(),
                        m.into(),
                        m.get(..2).unwrap_or(m).into(),
                    )
                })
                .collect(),
            seen: FastSet::default(),
            subproject_keys,
            value_memo: RefCell::new(FastMap::default()),
            subproject_memo: RefCell::new(Default::default()),
        }
    }

    /// (column index, header text) of a mapped field, if the header has it.
    fn column(&self, f: CanonicalField) -> Option<&(usize, String)> {
        self.columns[f as usize].as_ref()
    }

    fn cell<'r>(&self, row: &'r RawRow, f: CanonicalField) -> Option<(&'r Cell, &str)> {
        let (i, h) = self.column(f)?;
        Some((row.cells.get(*i).unwrap_or(&Cell::Empty), h.as_str()))
    }

    /// The trimmed, non-empty text of a field, borrowed from the row when the cell is text.
    fn text<'r>(&self, row: &'r RawRow, f: CanonicalField) -> Option<Cow<'r, str>> {
        let (c, _) = self.cell(row, f)?;
        let t = match c.as_text()? {
            Cow::Borrowed(t) => Cow::Borrowed(t.trim()),
            Cow::Owned(t) if t.trim().len() == t.len() => Cow::Owned(t),
            Cow::Owned(t) => Cow::Owned(t.trim().to_string()),
        };
        (!t.is_empty()).then_some(t)
    }

    /// Map a value through the pipeline's maps, then the built-in ones.
    fn map_value(&self, field: &'static str, raw: &str) -> Option<&'static str> {
        // A column holds a handful of distinct spellings: fold and look each up once per file.
        if let Some(v) = self.value_memo.borrow().get(field).and_then(|m| m.get(raw)) {
            return *v;
        }
        let v = self.map_value_folded(field, raw);
        let mut memo = self.value_memo.borrow_mut();
        let m = memo.entry(field).or_default();
        if m.len() < VALUE_MEMO_ENTRIES {
            m.insert(raw.to_string(), v);
        }
        v
    }

    fn map_value_folded(&self, field: &'static str, raw: &str) -> Option<&'static str> {
        let key = fold_key(raw);
        let allowed = domain::allowed_values(field)?;
        if let Some(v) = self.values.get(field).and_then(|m| m.get(&key)) {
            return allowed.iter().copied().find(|a| a == v);
        }
        if let Some(v) = domain::builtin_value(field, &key) {
            return Some(v);
        }
        // A value already spelled canonically is accepted as such.
        allowed.iter().copied().find(|a| *a == key)
    }

    pub fn normalise(&mut self, row: &RawRow, pseudo: &Pseudonymiser) -> RowOutcome {
        if row.cells.iter().all(Cell::is_blank) {
            return RowOutcome::Skipped("blank");
        }
        // Only text can name a total (numbers, dates and booleans never start with the words).
        if let Some(Cell::Text(t)) = row.cells.iter().find(|c| !c.is_blank()) {
            if is_total_label(t) {
                return RowOutcome::Skipped("total");
            }
        }
        let mut rejects = Vec::new();
        let mut reject =
            |rule: &'static str, column: Option<&str>, raw: Option<String>, msg: String| {
                rejects.push(Reject {
                    rule,
                    column: column.map(str::to_string),
                    message: msg,
                    raw_value: raw.map(|r| clip(&mask(&r))),
                })
            };

        // Excel error cells in any mapped column.
        for f in domain::ALL_FIELDS {
            let Some((i, h)) = self.column(f) else {
                continue;
            };
            if let Some(Cell::Error(e)) = row.cells.get(*i) {
                reject(
                    "excel_error",
                    Some(h),
                    Some(e.clone()),
                    format!("{} cell holds the Excel error {e}", f.as_str()),
                );
            }
        }
        let errored = |f: CanonicalField| matches!(self.cell(row, f), Some((Cell::Error(_), _)));

        // Identity.
        // Borrowed from the field alone, so that `seen` can be updated while it is held.
        let pnr_header = self.columns[CanonicalField::Personnummer as usize]
            .as_ref()
            .map(|(_, h)| h.as_str());
        let pnr = match self.text(row, CanonicalField::Personnummer) {
            None if errored(CanonicalField::Personnummer) => None,
            None => {
                reject(
                    "missing_required",
                    pnr_header,
                    None,
                    "personnummer is empty".into(),
                );
                None
            }
            Some(raw) => match domain::parse_personnummer(&raw, self.export_date) {
                Ok(p) => Some(p),
                Err(e) => {
                    reject(
                        "invalid_personnummer",
                        pnr_header,
                        Some(raw.into_owned()),
                        e.to_string(),
                    );
                    None
                }
            },
        };

        // Dates.
        let start = self
            .date_field(row, CanonicalField::StartDate, true, &mut reject)
            .flatten();
        let end = self.date_field(row, CanonicalField::EndDate, false, &mut reject);

        // Sub-project.
        let sp_index = self.resolve_subproject(row, &mut reject);

        let is_activity = self.source.kind == SourceKind::Activities;
        let mut enum_field = |this: &Self,
                              f: CanonicalField,
                              name: &'static str|
         -> Result<Option<&'static str>, ()> {
            let Some(raw) = this.text(row, f) else {
                return Ok(None);
            };
            match this.map_value(name, &raw) {
                Some(v) => Ok(Some(v)),
                None => {
                    let h = this.column(f).map(|(_, h)| h.as_str());
                    reject(
                        "unknown_value",
                        h,
                        Some(raw.to_string()),
                        format!(
                            "\"{}\" is not in the value map for {name}; add it under [values.{name}] (canonical values: {})",
                            clip(&mask(&raw)),
                            domain::allowed_values(name).unwrap_or(&[]).join(", ")
                        ),
                    );
                    Err(())
                }
            }
        };
        let activity_type = enum_field(self, CanonicalField::ActivityType, "activity_type");
        let gender_stated = enum_field(self, CanonicalField::Gender, "gender");
        let exit = enum_field(self, CanonicalField::ExitReason, "exit_reason");
        let referral = enum_field(self, CanonicalField::ReferralSource, "referral_source");
        let education = enum_field(self, CanonicalField::EducationLevel, "education_level");
        let labour = enum_field(self, CanonicalField::LabourStatus, "labour_status");
        let ltu = enum_field(
            self,
            CanonicalField::LongTermUnemployed,
            "long_term_unemployed",
        );
        let foreign = enum_field(self, CanonicalField::ForeignBorn, "foreign_born");
        let tcn = enum_field(
            self,
            CanonicalField::ThirdCountryNational,
            "third_country_national",
        );
        let disability = enum_field(self, CanonicalField::Disability, "disability");
        let qual = enum_field(
            self,
            CanonicalField::QualificationGained,
            "qualification_gained",
        );
        let subsidised = enum_field(
            self,
            CanonicalField::SubsidisedEmployment,
            "subsidised_employment",
        );

        let hours = match self.cell(row, CanonicalField::Hours) {
            None => None,
            Some((c, h)) => match parse_number(c, self.source.decimal_comma) {
                Ok(v) => v,
                Err(raw) => {
                    if !matches!(c, Cell::Error(_)) {
                        reject(
                            "invalid_number",
                            Some(h),
                            Some(raw.clone()),
                            format!(
                                "hours \"{raw}\" is not a number{}",
                                if self.source.decimal_comma {
                                    " (decimal comma expected)"
                                } else {
                                    " (decimal point expected; set decimal_comma = true for 7,5)"
                                }
                            ),
                        );
                    }
                    None
                }
            },
        };
        if is_activity && activity_type == Ok(None) && !errored(CanonicalField::ActivityType) {
            let h = self
                .column(CanonicalField::ActivityType)
                .map(|(_, h)| h.clone());
            reject(
                "missing_required",
                h.as_deref(),
                None,
                "activity type is empty".into(),
            );
        }

        // Cross-field rules.
        if let (Some(s), Some(Some(e))) = (start, end) {
            if e < s {
                let h = self.column(CanonicalField::EndDate).map(|(_, h)| h.clone());
                reject(
                    "end_before_start",
                    h.as_deref(),
                    Some(e.to_string()),
                    format!("end date {e} is before start date {s}"),
                );
            }
        }
        if let (Some(reason), Some(None)) = (self.text(row, CanonicalField::ExitReason), end) {
            let h = self
                .column(CanonicalField::ExitReason)
                .map(|(_, h)| h.clone());
            reject(
                "outcome_without_exit",
                h.as_deref(),
                Some(reason.into_owned()),
                "an exit reason is given but the end date is empty".into(),
            );
        }
        let project = &self.pipeline.file.project;
        if self.pipeline.file.validation.check_project_period {
            let (ps, pe) = (project.period_start.0, project.period_end.0);
            if let Some(s) = start {
                if s < ps || s > pe {
                    reject(
                        "outside_project_period",
                        self.column(CanonicalField::StartDate)
                            .map(|(_, h)| h.as_str()),
                        Some(s.to_string()),
                        format!("start date {s} is outside the project period {ps}–{pe}"),
                    );
                }
            }
            if let Some(Some(e)) = end {
                if e > pe {
                    reject(
                        "outside_project_period",
                        self.column(CanonicalField::EndDate)
                            .map(|(_, h)| h.as_str()),
                        Some(e.to_string()),
                        format!("end date {e} is after the project end {pe}"),
                    );
                }
            }
        }
        let age = match (&pnr, start) {
            (Some(p), Some(s)) => {
                let age = domain::age_at(p.birth_date, s);
                let [lo, hi] = self.pipeline.file.validation.age_range;
                if !is_activity && (age < lo || age > hi) {
                    reject(
                        "age_out_of_range",
                        pnr_header,
                        None,
                        format!("age at start is {age}; expected {lo}–{hi} (validation.age_range)"),
                    );
                }
                Some(age)
            }
            _ => None,
        };

        if !rejects.is_empty() {
            return RowOutcome::Rejected(rejects);
        }
        // Every rule passed: all the options below are filled.
        let (Some(pnr), Some(start), Some(end), Some(sp_index), Some(age)) =
            (pnr, start, end, sp_index, age)
        else {
            return RowOutcome::Rejected(vec![Reject {
                rule: "missing_required",
                column: None,
                message: "a required value is missing".into(),
                raw_value: None,
            }]);
        };
        let ok = |r: Result<Option<&'static str>, ()>| r.ok().flatten();
        let (sp_id, municipality, county) = &self.subproject_ids[sp_index];
        let digest = pseudo.digest(&pnr.canonical);
        // Two different activities may start the same day; an enrolment may not.
        let key_activity = if is_activity {
            ok(activity_type).unwrap_or("")
        } else {
            ""
        };
        if !self
            .seen
            .insert(duplicate_key(&digest, sp_index, start, key_activity))
        {
            return RowOutcome::Rejected(vec![Reject {
                rule: "duplicate_row",
                column: pnr_header.map(str::to_string),
                message: if is_activity {
                    format!("the same participant, activity and start date {start} already appear earlier in this file")
                } else {
                    format!("the same participant, sub-project and start date {start} already appear earlier in this file")
                },
                raw_value: None,
            }]);
        }
        let participant_id = hex_digest(&digest);
        let lineage = Lineage {
            source_file: self.source_file.clone(),
            source_sheet: self.source_sheet.clone(),
            source_row: row.row,
            export_date: self.export_date,
        };
        if is_activity {
            return RowOutcome::Activity(Box::new(Activity {
                project_id: self.project_id.clone(),
                subproject_id: sp_id.clone(),
                municipality_code: municipality.clone(),
                participant_id,
                activity_type: ok(activity_type).unwrap_or("other"),
                activity_raw: self
                    .text(row, CanonicalField::ActivityType)
                    .map(Cow::into_owned)
                    .unwrap_or_default(),
                provider: self
                    .text(row, CanonicalField::Provider)
                    .map(Cow::into_owned),
                start_date: start,
                end_date: end,
                hours,
                lineage,
            }));
        }
        let exit_code = ok(exit);
        let (exit_outcome, subsidised_from_exit) = match exit_code {
            Some("work_subsidised") => (Some("work"), Some(true)),
            Some("work") => (Some("work"), Some(false)),
            Some(o) => (Some(o), None),
            None => (None, None),
        };
        let labour_code = ok(labour);
        let gender = pnr.gender.as_str();
        let stated = ok(gender_stated);
        RowOutcome::Enrolment(Box::new(Enrolment {
            project_id: self.project_id.clone(),
            subproject_id: sp_id.clone(),
            municipality_code: municipality.clone(),
            county_code: county.clone(),
            participant_id,
            id_kind: pnr.kind.as_str(),
            gender,
            gender_mismatch: stated.is_some_and(|s| s != gender),
            birth_year: pnr.birth_date.year(),
            age_at_start: age,
            start_date: start,
            end_date: end,
            exit_outcome,
            exit_reason_raw: self
                .text(row, CanonicalField::ExitReason)
                .map(|r| clip(&mask(&r))),
            subsidised_employment: ok(subsidised).map(|v| v == "true").or(subsidised_from_exit),
            qualification_gained: ok(qual).map(|v| v == "true"),
            referral_source: ok(referral),
            education_level: if self.column(CanonicalField::EducationLevel).is_some() {
                Some(ok(education).unwrap_or("unknown"))
            } else {
                None
            },
            labour_status_at_entry: match labour_code {
                Some("long_term_unemployed") => Some("unemployed"),
                Some(v) => Some(v),
                None if self.column(CanonicalField::LabourStatus).is_some() => Some("unknown"),
                None => None,
            },
            long_term_unemployed: match (ok(ltu), labour_code) {
                (Some(v), _) => Some(v == "true"),
                (None, Some("long_term_unemployed")) => Some(true),
                (None, Some("unknown")) => None,
                (None, Some(_)) => Some(false),
                (None, None) => None,
            },
            foreign_born: self.yes_no(CanonicalField::ForeignBorn, ok(foreign)),
            third_country_national: self.yes_no(CanonicalField::ThirdCountryNational, ok(tcn)),
            disability: self.yes_no(CanonicalField::Disability, ok(disability)),
            hours,
            activity_type: ok(activity_type),
            lineage,
        }))
    }

    /// A yes/no/refused/unknown field: null when the source has no such column, `unknown` when the cell is empty.
    fn yes_no(&self, f: CanonicalField, v: Option<&'static str>) -> Option<&'static str> {
        match v {
            Some(v) => Some(v),
            None if self.column(f).is_some() => Some("unknown"),
            None => None,
        }
    }

    /// Returns None when the field is invalid (a reject was recorded); Some(None) when empty and optional.
    fn date_field(
        &self,
        row: &RawRow,
        f: CanonicalField,
        required: bool,
        reject: &mut impl FnMut(&'static str, Option<&str>, Option<String>, String),
    ) -> Option<Option<NaiveDate>>
    where
        Self: Sized,
    {
        let Some((cell, header)) = self.cell(row, f) else {
            return if required { None } else { Some(None) };
        };
        if let Cell::Error(_) = cell {
            return None;
        }
        if cell.is_blank() {
            if required {
                reject(
                    "missing_required",
                    Some(header),
                    None,
                    format!("{} is empty", f.as_str()),
                );
                return None;
            }
            return Some(None);
        }
        match parse_date(cell, &self.date_formats, self.date_1904) {
            Some(d) => Some(Some(d)),
            None => {
                let raw = cell.as_text().map(|t| t.into_owned());
                reject(
                    "invalid_date",
                    Some(header),
                    raw.clone(),
                    format!(
                        "{} \"{}\" is not a date in the accepted formats ({}) nor an Excel date",
                        f.as_str(),
                        raw.as_deref().map(mask).unwrap_or_default(),
                        self.date_formats.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// A sub-project resolved from a cell's text (`kind` 0: the sub-project column, 1: the kommun column),
    /// worked out once per distinct text in a file.
    fn memo_subproject(
        &self,
        kind: usize,
        raw: &str,
        resolve: impl FnOnce(&str) -> Option<usize>,
    ) -> Option<usize> {
        if let Some(found) = self.subproject_memo.borrow()[kind].get(raw) {
            return *found;
        }
        let found = resolve(raw);
        let mut memo = self.subproject_memo.borrow_mut();
        if memo[kind].len() < VALUE_MEMO_ENTRIES {
            memo[kind].insert(raw.to_string(), found);
        }
        found
    }

    fn resolve_subproject(
        &self,
        row: &RawRow,
        reject: &mut impl FnMut(&'static str, Option<&str>, Option<String>, String),
    ) -> Option<usize> {
        let subs = &self.pipeline.file.subprojects;
        if let Some(id) = &self.source.subproject {
            return subs.iter().position(|s| &s.id == id);
        }
        if let Some(raw) = self.text(row, CanonicalField::Subproject) {
            let found = self.memo_subproject(0, &raw, |raw| {
                let mapped = self
                    .values
                    .get("subproject")
                    .and_then(|m| m.get(&fold_key(raw)));
                match mapped {
                    Some(id) => subs.iter().position(|s| &s.id == id),
                    None => self.subproject_keys.get(&fold_header(raw)).copied(),
                }
            });
            if found.is_none() {
                let h = self
                    .column(CanonicalField::Subproject)
                    .map(|(_, h)| h.as_str());
                reject(
                    "unknown_subproject",
                    h,
                    Some(raw.to_string()),
                    format!("\"{raw}\" names no sub-project of this pipeline; map it under [values.subproject]"),
                );
            }
            return found;
        }
        if let Some(raw) = self.text(row, CanonicalField::MunicipalityCode) {
            let found = self.memo_subproject(1, &raw, |raw| {
                domain::normalise_kommunkod(raw)
                    .as_deref()
                    .and_then(|c| subs.iter().position(|s| s.municipality_code == c))
                    .or_else(|| self.subproject_keys.get(&fold_header(raw)).copied())
            });
            if found.is_none() {
                let h = self
                    .column(CanonicalField::MunicipalityCode)
                    .map(|(_, h)| h.as_str());
                reject(
                    "unknown_subproject",
                    h,
                    Some(raw.to_string()),
                    format!("kommun \"{raw}\" is not the kommunkod or name of any sub-project of this pipeline"),
                );
            }
            return found;
        }
        let h = self
            .column(CanonicalField::Subproject)
            .or_else(|| self.column(CanonicalField::MunicipalityCode))
            .map(|(_, h)| h.clone());
        reject(
            "missing_required",
            h.as_deref(),
            None,
            "the sub-project / kommun column is empty".into(),
        );
        None
    }
}

/// Excel's 1904 date system (Excel for Mac before 2011, or a workbook set to it): serial 0 = 1904-01-01,
/// no fictitious leap day; the same plausible range as the 1900 system.
pub fn excel_1904_serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !(0.0..=(73050.0 - 1462.0)).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1904, 1, 1)?
        .checked_add_signed(chrono::Duration::days(serial.trunc() as i64))
}

/// Excel's 1900 date system: serial 1 = 1900-01-01, with the fictitious 1900-02-29 at serial 60.
pub fn excel_serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..=73050.0).contains(&serial) {
        return None; // before 1900 or after 2099: not a plausible date
    }
    let days = serial.trunc() as i64;
    if days == 60 {
        return None;
    }
    let base = if days < 60 {
        NaiveDate::from_ymd_opt(1899, 12, 31)?
    } else {
        NaiveDate::from_ymd_opt(1899, 12, 30)?
    };
    base.checked_add_signed(chrono::Duration::days(days))
}

/// A date from a cell: Excel date cells and serials always (serials in the workbook's date system: 1904 when
/// `date_1904`); text only in the declared formats.
pub fn parse_date(cell: &Cell, formats: &[String], date_1904: bool) -> Option<NaiveDate> {
    match cell {
        Cell::DateTime(dt) => Some(dt.date()),
        Cell::Number(f) => number_date(*f, formats, date_1904),
        Cell::Int(i) => number_date(*i as f64, formats, date_1904),
        Cell::Text(t) => parse_date_text(t.trim(), formats),
        _ => None,
    }
}

fn number_date(f: f64, formats: &[String], date_1904: bool) -> Option<NaiveDate> {
    // 20200201 typed as a number is YYYYMMDD when the source accepts that format.
    if f.fract() == 0.0 && (19_000_101.0..=21_001_231.0).contains(&f) {
        return formats
            .iter()
            .any(|x| x == "%Y%m%d")
            .then(|| parse_date_text(&format!("{}", f as i64), &["%Y%m%d".to_string()]))
            .flatten();
    }
    if date_1904 {
        excel_1904_serial_to_date(f)
    } else {
        excel_serial_to_date(f)
    }
}

pub fn parse_date_text(t: &str, formats: &[String]) -> Option<NaiveDate> {
    for fmt in formats {
        if fmt == "%Y-%m-%d" {
            // The common case without chrono's format interpreter: exactly YYYY-MM-DD (anything else, such
            // as 2021-2-1, still goes through chrono below).
            let b = t.as_bytes();
            let digits = |r: std::ops::Range<usize>| {
                b[r].iter().try_fold(0u32, |n, &c| {
                    c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
                })
            };
            if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
                if let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10)) {
                    match NaiveDate::from_ymd_opt(y as i32, m, d) {
                        Some(date) => return Some(date),
                        None => continue,
                    }
                }
            }
        }
        if fmt == "%Y%m%d" {
            // chrono's %Y is greedy without separators; parse the eight digits by hand.
            if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
                let (y, m, d) = (&t[..4], &t[4..6], &t[6..]);
                if let (Ok(y), Ok(m), Ok(d)) = (y.parse(), m.parse(), d.parse()) {
                    if let Some(date) = NaiveDate::from_ymd_opt(y, m, d) {
                        return Some(date);
                    }
                }
            }
            continue;
        }
        let has_time = fmt.contains("%H") || fmt.contains("%T") || fmt.contains("%M");
        if has_time {
            if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
                return Some(dt.date());
            }
        } else if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Some(d);
        }
    }
    None
}

/// A number from a cell. Text uses the source's decimal separator; spaces and no-break spaces are thousands
/// separators. Returns the raw text on failure.
pub fn parse_number(cell: &Cell, decimal_comma: bool) -> Result<Option<f64>, String> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Number(f) => Ok(Some(*f)),
        Cell::Int(i) => Ok(Some(*i as f64)),
        Cell::Text(t) => {
            let t = t.trim();
            if t.is_empty() {
                return Ok(None);
            }
            let wrong = if decimal_comma { '.' } else { ',' };
            if t.contains(wrong) {
                return Err(t.to_string());
            }
            // Without the spaces (thousands separators), with a decimal point; on the stack when short.
            let cleaned = t
                .chars()
                .filter(|c| !(c.is_whitespace() || *c == '\u{a0}' || *c == '\u{202f}'))
                .map(|c| if c == ',' { '.' } else { c });
            let mut buf = [0u8; 64];
            let parsed = if t.is_ascii() && t.len() <= buf.len() {
                let n = buf
                    .iter_mut()
                    .zip(cleaned)
                    .map(|(d, c)| *d = c as u8)
                    .count();
                std::str::from_utf8(&buf[..n])
                    .ok()
                    .and_then(|c| c.parse::<f64>().ok())
            } else {
                cleaned.collect::<String>().parse::<f64>().ok()
            };
            parsed
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| t.to_string())
        }
        Cell::Error(e) => Err(e.clone()),
        other => Err(other.as_text().map(|t| t.into_owned()).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_differ_exactly_when_the_rows_differ() {
        let p = Pseudonymiser::new(b"a test key, not a real one");
        let people = [p.digest("person a"), p.digest("person b")];
        let days = [
            NaiveDate::from_ymd_opt(2024, 1, 1),
            NaiveDate::from_ymd_opt(2024, 1, 2),
            NaiveDate::from_ymd_opt(2031, 12, 31),
        ];
        let activities = ["", "mapping", "language", "other", "not a canonical type"];
        let mut keys = std::collections::HashMap::new();
        for (person, digest) in people.iter().enumerate() {
            for sp in [0usize, 1, 2, 255, 256] {
                for day in days.iter().flatten() {
                    for activity in activities {
                        let key = duplicate_key(digest, sp, *day, activity);
                        assert_eq!(key, duplicate_key(digest, sp, *day, activity));
                        let row = (person, sp, *day, activity);
                        if let Some(other) = keys.insert(key, row) {
                            panic!("{row:?} and {other:?} share a duplicate key");
                        }
                    }
                }
            }
        }
        assert_eq!(keys.len(), 2 * 5 * 3 * 5);
    }

    #[test]
    fn total_labels_as_the_folded_text_decides() {
        let cases = [
            ("Summa", true),
            ("  TOTALT:", true),
            ("Total 12", true),
            ("antal deltagare", true),
            ("\u{a0}Summa", true),
            ("Sum", false),
            ("Anna", false),
            ("Ånge", false),
            ("2024-01-31", false),
            ("* Summa", false),
            ("", false),
        ];
        for (text, expected) in cases {
            assert_eq!(is_total_label(text), expected, "{text:?}");
            let folded = fold_key(text);
            let reference = ["summa", "totalt", "total", "antal"]
                .iter()
                .any(|w| folded.starts_with(w));
            assert_eq!(is_total_label(text), reference, "{text:?} against fold_key");
        }
    }

    #[test]
    fn pseudonym_is_lowercase_hex_of_the_hmac() {
        let p = Pseudonymiser::new(b"a test key, not a real one");
        let digest = p.digest("a canonical number");
        assert_eq!(p.pseudonym("a canonical number"), hex::encode(digest));
        assert_eq!(hex_digest(&[0xab; PSEUDONYM_BYTES]), "ab".repeat(16));
    }
}
