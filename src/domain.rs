//! Swedish and ESF rules: canonical fields and enumerations, personnummer / samordningsnummer parsing,
//! kommunkod normalisation and the built-in value maps. Nothing here knows about files or storage.

use chrono::{Datelike, NaiveDate};

use crate::config::SourceKind;

/// A field of the canonical model that a source column can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CanonicalField {
    Personnummer,
    StartDate,
    EndDate,
    ExitReason,
    Gender,
    Subproject,
    MunicipalityCode,
    ReferralSource,
    EducationLevel,
    LabourStatus,
    LongTermUnemployed,
    ForeignBorn,
    ThirdCountryNational,
    Disability,
    QualificationGained,
    SubsidisedEmployment,
    Hours,
    ActivityType,
    Provider,
}

use CanonicalField as F;

pub const ALL_FIELDS: [CanonicalField; 19] = [
    F::Personnummer,
    F::StartDate,
    F::EndDate,
    F::ExitReason,
    F::Gender,
    F::Subproject,
    F::MunicipalityCode,
    F::ReferralSource,
    F::EducationLevel,
    F::LabourStatus,
    F::LongTermUnemployed,
    F::ForeignBorn,
    F::ThirdCountryNational,
    F::Disability,
    F::QualificationGained,
    F::SubsidisedEmployment,
    F::Hours,
    F::ActivityType,
    F::Provider,
];

impl CanonicalField {
    pub fn as_str(self) -> &'static str {
        match self {
            F::Personnummer => "personnummer",
            F::StartDate => "start_date",
            F::EndDate => "end_date",
            F::ExitReason => "exit_reason",
            F::Gender => "gender",
            F::Subproject => "subproject",
            F::MunicipalityCode => "municipality_code",
            F::ReferralSource => "referral_source",
            F::EducationLevel => "education_level",
            F::LabourStatus => "labour_status",
            F::LongTermUnemployed => "long_term_unemployed",
            F::ForeignBorn => "foreign_born",
            F::ThirdCountryNational => "third_country_national",
            F::Disability => "disability",
            F::QualificationGained => "qualification_gained",
            F::SubsidisedEmployment => "subsidised_employment",
            F::Hours => "hours",
            F::ActivityType => "activity_type",
            F::Provider => "provider",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_FIELDS.into_iter().find(|f| f.as_str() == s)
    }
}

/// Fields a source of the given kind may map.
pub fn fields_for(kind: SourceKind) -> &'static [CanonicalField] {
    match kind {
        SourceKind::Enrolments => &[
            F::Personnummer,
            F::StartDate,
            F::EndDate,
            F::ExitReason,
            F::Gender,
            F::Subproject,
            F::MunicipalityCode,
            F::ReferralSource,
            F::EducationLevel,
            F::LabourStatus,
            F::LongTermUnemployed,
            F::ForeignBorn,
            F::ThirdCountryNational,
            F::Disability,
            F::QualificationGained,
            F::SubsidisedEmployment,
            F::Hours,
            F::ActivityType,
        ],
        SourceKind::Activities => &[
            F::Personnummer,
            F::ActivityType,
            F::Provider,
            F::StartDate,
            F::EndDate,
            F::Hours,
            F::Subproject,
            F::MunicipalityCode,
        ],
    }
}

pub fn required_fields(kind: SourceKind) -> &'static [CanonicalField] {
    match kind {
        SourceKind::Enrolments => &[F::Personnummer, F::StartDate],
        SourceKind::Activities => &[F::Personnummer, F::ActivityType, F::StartDate],
    }
}

pub const EXIT_OUTCOMES: [&str; 4] = ["work", "studies", "job_seeking", "other"];

/// Fields whose source spellings go through value maps, and the canonical values each accepts.
pub const VALUE_MAPPED_FIELDS: [&str; 12] = [
    "gender",
    "exit_reason",
    "referral_source",
    "education_level",
    "labour_status",
    "long_term_unemployed",
    "foreign_born",
    "third_country_national",
    "disability",
    "qualification_gained",
    "subsidised_employment",
    "activity_type",
];

const YES_NO: &[&str] = &["yes", "no", "refused", "unknown"];
const BOOL: &[&str] = &["true", "false"];

/// Canonical activity types. The first seven are the ordered steps of the path to self-sufficiency.
pub const ACTIVITY_TYPES: [&str; 15] = [
    "mapping",
    "language",
    "adult_education",
    "vocational_training",
    "work_training",
    "matching",
    "employment",
    "labour_market_knowledge",
    "civic_orientation",
    "health",
    "digital_skills",
    "personal_finance",
    "guidance",
    "social_support",
    "other",
];

pub fn allowed_values(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "gender" => &["woman", "man"],
        // `work_subsidised` is work with the subsidised_employment flag set.
        "exit_reason" => &["work", "work_subsidised", "studies", "job_seeking", "other"],
        "referral_source" => &["employment_service", "social_services", "other"],
        "education_level" => &["isced_0_2", "isced_3_4", "isced_5_8", "unknown"],
        // `long_term_unemployed` is unemployed with the long-term flag set.
        "labour_status" => &[
            "unemployed",
            "long_term_unemployed",
            "inactive",
            "employed",
            "unknown",
        ],
        "foreign_born" | "third_country_national" | "disability" => YES_NO,
        "long_term_unemployed" | "qualification_gained" | "subsidised_employment" => BOOL,
        "activity_type" => &ACTIVITY_TYPES,
        _ => return None,
    })
}

/// Spellings every pipeline gets without writing them down; a pipeline's own maps override these.
/// Keys are compared after [`fold_key`].
pub fn builtin_value(field: &str, key: &str) -> Option<&'static str> {
    let v = match field {
        "gender" => match key {
            "k" | "kvinna" | "kvinnor" | "f" | "female" | "woman" | "2" => "woman",
            "m" | "man" | "män" | "male" | "1" => "man",
            _ => return None,
        },
        "long_term_unemployed" | "qualification_gained" | "subsidised_employment" => match key {
            "ja" | "j" | "yes" | "y" | "x" | "1" | "true" | "sant" => "true",
            "nej" | "n" | "no" | "0" | "false" | "falskt" => "false",
            _ => return None,
        },
        "foreign_born" | "third_country_national" | "disability" => match key {
            "ja" | "j" | "yes" | "y" | "x" | "1" => "yes",
            "nej" | "n" | "no" | "0" => "no",
            "vill ej uppge" | "avstår" | "vill inte svara" | "refused" => "refused",
            "okänd" | "okänt" | "vet ej" | "uppgift saknas" | "unknown" => "unknown",
            _ => return None,
        },
        // Only spellings whose meaning is not in doubt; "annan insats", "praktik" and the like need a
        // decision per project and belong in its value map.
        "exit_reason" => match key {
            "arbete" | "anställning" | "osubventionerad anställning" | "eget företag" => "work",
            "anställning med stöd"
            | "subventionerad anställning"
            | "lönebidrag"
            | "nystartsjobb" => "work_subsidised",
            "studier" | "utbildning" => "studies",
            "arbetssökande" => "job_seeking",
            _ => return None,
        },
        "education_level" => match key {
            "förgymnasial" | "grundskola" | "isced 0-2" | "isced_0_2" => "isced_0_2",
            "gymnasial" | "gymnasium" | "isced 3-4" | "isced_3_4" => "isced_3_4",
            "eftergymnasial" | "högskola" | "universitet" | "isced 5-8" | "isced_5_8" => {
                "isced_5_8"
            }
            "okänd" | "uppgift saknas" | "unknown" => "unknown",
            _ => return None,
        },
        _ => return None,
    };
    Some(v)
}

/// Normalise a value or header for comparison: NFC, trimmed, no-break spaces as spaces, runs of white space
/// folded to one, lower case.
pub fn fold_key(s: &str) -> String {
    use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
    // Almost every value is already NFC (always so for ASCII): then the composing pass is skipped.
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        fold_chars(s.chars(), s.len())
    } else {
        fold_chars(s.nfc(), s.len())
    }
}

fn fold_chars(chars: impl Iterator<Item = char>, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut space = false;
    for c in chars {
        let c = if c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}' {
            ' '
        } else {
            c
        };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Like [`fold_key`], and also without diacritics and non-alphanumerics: for matching headers
/// ("Kön" = "Kon" = "KÖN ").
pub fn fold_header(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    fold_key(s).nfd().filter(|c| c.is_alphanumeric()).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Personnummer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Personnummer,
    Samordningsnummer,
    ProtectedIdentity,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Personnummer => "personnummer",
            IdKind::Samordningsnummer => "samordningsnummer",
            IdKind::ProtectedIdentity => "protected_identity",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Woman,
    Man,
}

impl Gender {
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Woman => "woman",
            Gender::Man => "man",
        }
    }
}

/// A validated identity number. `canonical` is the 12-character form that is hashed
/// (`YYYYMMDDNNNC`, or `YYYYMMDDTFNN` for a protected identity). It never leaves the process.
#[derive(Clone, PartialEq, Eq)]
pub struct Personnummer {
    pub canonical: String,
    pub kind: IdKind,
    pub birth_date: NaiveDate,
    pub gender: Gender,
}

impl std::fmt::Debug for Personnummer {
    // Never print the number itself, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Personnummer({}, {})",
            self.kind.as_str(),
            mask(&self.canonical)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PnrError {
    #[error(
        "expected 10 or 12 digits (YYYYMMDD-NNNN, YYMMDD-NNNN, YYMMDD+NNNN), found {0} digits"
    )]
    Length(usize),
    #[error(
        "expected digits with at most one '-' or '+' before the last four, found other characters"
    )]
    Characters,
    #[error("scientific notation (e.g. 1,99E+11): Excel has dropped digits; re-export the column as text")]
    Scientific,
    #[error("check digit (Luhn) does not match")]
    Checksum,
    #[error("the date part is not a valid date")]
    Date,
    #[error("birth number 000 is never issued")]
    Serial,
    #[error("the date part lies after the reference date {0}")]
    Future(NaiveDate),
}

fn luhn_ok(ten: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in ten[..9].iter().enumerate() {
        let p = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
        sum += p / 10 + p % 10;
    }
    (10 - sum % 10) % 10 == u32::from(ten[9])
}

/// Parse a personnummer, samordningsnummer or protected-identity placeholder in any common written form.
/// `reference` (the export or report date) decides the century of 10-digit numbers: the latest century
/// whose date is not after it; `+` adds a hundred years of age.
pub fn parse_personnummer(raw: &str, reference: NaiveDate) -> Result<Personnummer, PnrError> {
    let s: String = raw
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '\u{a0}' || *c == '\u{202f}'))
        .collect();
    if s.contains(['E', 'e']) && s.contains(['+', ',', '.']) {
        return Err(PnrError::Scientific);
    }
    // Protected identity (SCB): YYYYMMDD + "TF" + two digits, the first of which carries the gender.
    let upper = s.to_ascii_uppercase();
    if let Some(pos) = upper.find("TF") {
        let date_part: String = upper[..pos].chars().filter(|c| *c != '-').collect();
        let tail = &upper[pos + 2..];
        if date_part.len() == 8
            && date_part.bytes().all(|b| b.is_ascii_digit())
            && tail.len() == 2
            && tail.bytes().all(|b| b.is_ascii_digit())
        {
            let birth =
                NaiveDate::parse_from_str(&date_part, "%Y%m%d").map_err(|_| PnrError::Date)?;
            let g = tail.as_bytes()[0] - b'0';
            return Ok(Personnummer {
                canonical: format!("{date_part}TF{tail}"),
                kind: IdKind::ProtectedIdentity,
                birth_date: birth,
                gender: if g % 2 == 1 {
                    Gender::Man
                } else {
                    Gender::Woman
                },
            });
        }
        return Err(PnrError::Characters);
    }
    let mut digits = Vec::with_capacity(12);
    let mut sep: Option<char> = None;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c as u8 - b'0'),
            '-' | '+' if sep.is_none() && i > 0 && s.len() - i == 5 => sep = Some(c),
            _ => return Err(PnrError::Characters),
        }
    }
    let (century, ten): (Option<u32>, &[u8]) = match digits.len() {
        12 => (
            Some(u32::from(digits[0]) * 10 + u32::from(digits[1])),
            &digits[2..],
        ),
        10 => (None, &digits[..]),
        n => return Err(PnrError::Length(n)),
    };
    if !luhn_ok(ten) {
        return Err(PnrError::Checksum);
    }
    let two = |i: usize| u32::from(ten[i]) * 10 + u32::from(ten[i + 1]);
    let (yy, mm, mut dd) = (two(0), two(2), two(4));
    let serial = two(6) * 10 + u32::from(ten[8]);
    if serial == 0 {
        return Err(PnrError::Serial);
    }
    let kind = if dd > 60 {
        dd -= 60;
        IdKind::Samordningsnummer
    } else {
        IdKind::Personnummer
    };
    let year = match century {
        Some(c) => (c * 100 + yy) as i32,
        None => {
            let ref_year = reference.year();
            let mut y = ref_year - (ref_year.rem_euclid(100)) + yy as i32;
            // Latest century whose date is not after the reference date.
            let date_after = |y: i32| match NaiveDate::from_ymd_opt(y, mm, dd) {
                Some(d) => d > reference,
                None => y > ref_year,
            };
            if date_after(y) {
                y -= 100;
            }
            if sep == Some('+') {
                y -= 100;
            }
            y
        }
    };
    let birth = NaiveDate::from_ymd_opt(year, mm, dd).ok_or(PnrError::Date)?;
    if birth > reference {
        return Err(PnrError::Future(reference));
    }
    let canonical: String = std::iter::once(format!("{year:04}"))
        .chain(ten[2..].iter().map(|d| char::from(b'0' + d).to_string()))
        .collect();
    Ok(Personnummer {
        canonical,
        kind,
        birth_date: birth,
        gender: if ten[8] % 2 == 1 {
            Gender::Man
        } else {
            Gender::Woman
        },
    })
}

/// Mask a value that may hold an identity number: every run of 10–12 digits (with an optional
/// `-`/`+` before the last four) keeps its date part and loses the last four (`19850312-****`).
pub fn mask(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            let mut digits = 0;
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit() || (matches!(chars[j], '-' | '+' | ' ') && j > start))
            {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                }
                j += 1;
            }
            let run: String = chars[start..j].iter().collect();
            let trimmed = run.trim_end_matches(['-', '+', ' ']);
            let tail = &run[trimmed.len()..];
            if digits >= 9 {
                // Keep the date part (6 or 8 digits), mask everything after it. A run of more than 12
                // digits is several numbers joined by separators: only the first date part is kept.
                let keep = if digits >= 11 { 8 } else { 6 };
                let mut kept = 0;
                for c in trimmed.chars() {
                    if c.is_ascii_digit() {
                        if kept < keep {
                            out.push(c);
                            kept += 1;
                        } else {
                            out.push('*');
                        }
                    } else {
                        out.push(c);
                    }
                }
                out.push_str(tail);
            } else if (digits == 6 || digits == 8)
                && j + 2 < chars.len()
                && chars[j].eq_ignore_ascii_case(&'T')
                && chars[j + 1].eq_ignore_ascii_case(&'F')
                && chars[j + 2].is_ascii_digit()
            {
                // A protected-identity placeholder (`YYYYMMDDTFNN`): keep the date and `TF`, mask the digits.
                out.push_str(&run);
                out.push(chars[j]);
                out.push(chars[j + 1]);
                let mut k = j + 2;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    out.push('*');
                    k += 1;
                }
                i = k;
                continue;
            } else {
                out.push_str(&run);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Whole years between two dates (age at a date). 29 February birthdays count on 1 March in common years.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> i64 {
    let mut years = i64::from(at.year() - birth.year());
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

/// A four-digit kommunkod as text, re-padded when a spreadsheet dropped the leading zero (`767` → `0767`).
pub fn normalise_kommunkod(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match t.len() {
        4 => Some(t.to_string()),
        3 => Some(format!("0{t}")),
        _ => None,
    }
}

/// Kommunkoder and names this build knows (those of the seed projects' counties). Others are accepted with
/// a warning by `validate`.
pub const KOMMUNER: &[(&str, &str)] = &[
    ("1315", "Hylte"),
    ("1380", "Halmstad"),
    ("1381", "Laholm"),
    ("1382", "Falkenberg"),
    ("1383", "Varberg"),
    ("1384", "Kungsbacka"),
    ("2101", "Ockelbo"),
    ("2104", "Hofors"),
    ("2121", "Ovanåker"),
    ("2132", "Nordanstig"),
    ("2161", "Ljusdal"),
    ("2180", "Gävle"),
    ("2181", "Sandviken"),
    ("2182", "Söderhamn"),
    ("2183", "Bollnäs"),
    ("2184", "Hudiksvall"),
    ("2280", "Härnösand"),
    ("2303", "Ragunda"),
    ("2305", "Bräcke"),
    ("2309", "Krokom"),
    ("2313", "Strömsund"),
    ("2321", "Åre"),
    ("2326", "Berg"),
    ("2361", "Härjedalen"),
    ("2380", "Östersund"),
];

pub fn kommun_name(code: &str) -> Option<&'static str> {
    KOMMUNER.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}
