//! `to_char(value, format)` as PostgreSQL writes it (`'YYYY-MM'`, `'FMDD Month YYYY'`, `'IYYY-"W"IW'`)
//! as well as DataFusion's strftime formats (`'%Y-%m'`). DataFusion's own `to_char` knows only strftime,
//! and a PostgreSQL template — what analysts and BI tools used to PostgreSQL write — came back as its own
//! letters on every row (`to_char(start_date, 'YYYY-MM')` gave `YYYY-MM`), so a grouping by month
//! silently became one group. A format without `%` is read as a PostgreSQL template here; a template
//! field this implementation does not know is an error naming it, never literal text.

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

/// DataFusion's `to_char`, taking PostgreSQL templates as well.
pub fn to_char_udf() -> ScalarUDF {
    ScalarUDF::from(PgToChar {
        inner: datafusion::functions::datetime::to_char(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgToChar {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for PgToChar {
    fn name(&self) -> &str {
        self.inner.name()
    }
    /// None: `date_format` (Spark's name, whose patterns — `HH:mm` — mean other things than
    /// PostgreSQL's) stays DataFusion's strftime function.
    fn aliases(&self) -> &[String] {
        &[]
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [value, format] = args.args.as_slice() else {
            return self.inner.invoke_with_args(args);
        };
        let rows = args.number_rows;
        let formats: Vec<Option<String>> = match format {
            ColumnarValue::Scalar(s) => match s {
                ScalarValue::Utf8(f) | ScalarValue::LargeUtf8(f) | ScalarValue::Utf8View(f) => {
                    vec![f.clone()]
                }
                _ => return self.inner.invoke_with_args(args),
            },
            ColumnarValue::Array(a) => match a.data_type() {
                DataType::Utf8 => a
                    .as_string::<i32>()
                    .iter()
                    .map(|f| f.map(str::to_string))
                    .collect(),
                DataType::LargeUtf8 => a
                    .as_string::<i64>()
                    .iter()
                    .map(|f| f.map(str::to_string))
                    .collect(),
                DataType::Utf8View => a
                    .as_string_view()
                    .iter()
                    .map(|f| f.map(str::to_string))
                    .collect(),
                _ => return self.inner.invoke_with_args(args),
            },
        };
        let strftime = |f: &Option<String>| f.as_deref().is_some_and(|f| f.contains('%'));
        if formats.iter().all(|f| f.is_none() || strftime(f)) {
            return self.inner.invoke_with_args(args);
        }
        if formats.iter().any(strftime) {
            return exec_err!(
                "to_char: one column of formats mixes strftime (%Y) and PostgreSQL (YYYY) patterns"
            );
        }
        let templates = formats
            .iter()
            .map(|f| f.as_deref().map(parse_template).transpose())
            .collect::<Result<Vec<_>>>()?;
        let scalar_result =
            matches!(value, ColumnarValue::Scalar(_)) && matches!(format, ColumnarValue::Scalar(_));
        let values = value.to_array(if scalar_result { 1 } else { rows })?;
        let times = as_naive_micros(&values)?;
        let mut out = StringBuilder::new();
        for i in 0..times.len() {
            let template = if templates.len() == 1 {
                &templates[0]
            } else {
                &templates[i]
            };
            match (template, times.is_null(i)) {
                (Some(t), false) => {
                    let Some(at) = chrono::DateTime::from_timestamp_micros(times.value(i)) else {
                        out.append_null();
                        continue;
                    };
                    out.append_value(render(t, &at.naive_utc()));
                }
                _ => out.append_null(),
            }
        }
        let array: ArrayRef = Arc::new(out.finish());
        if scalar_result {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &array, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(array))
        }
    }
}

/// Dates and timestamps as microseconds of wall-clock time (a zoned timestamp in its own zone).
fn as_naive_micros(
    values: &ArrayRef,
) -> Result<datafusion::arrow::array::PrimitiveArray<TimestampMicrosecondType>> {
    match values.data_type() {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => {
            let cast = datafusion::arrow::compute::cast(
                values,
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            Ok(cast.as_primitive::<TimestampMicrosecondType>().clone())
        }
        other => exec_err!(
            "to_char with a PostgreSQL pattern formats dates and timestamps, not {other}; \
             for times and durations write a strftime format such as '%H:%M'"
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Upper,
    Title,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year4,
    Year3,
    Year2,
    Year1,
    IsoYear,
    Month,
    Day,
    DayOfYear,
    WeekdaySun1,
    WeekdayIso,
    IsoWeek,
    WeekOfYear,
    Quarter,
    Hour24,
    Hour12,
    Minute,
    Second,
    Millis,
    Micros,
    Meridiem { dots: bool },
    MonthName { short: bool },
    DayName { short: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field {
        field: Field,
        case: Case,
        fill: bool,
    },
}

/// Template fields, longest first where one begins another (matched without regard to case, as
/// PostgreSQL does; the case of a name field sets the case of the name).
const FIELDS: &[(&str, Field)] = &[
    ("HH24", Field::Hour24),
    ("HH12", Field::Hour12),
    ("HH", Field::Hour12),
    ("IYYY", Field::IsoYear),
    ("YYYY", Field::Year4),
    ("YYY", Field::Year3),
    ("YY", Field::Year2),
    ("MONTH", Field::MonthName { short: false }),
    ("MON", Field::MonthName { short: true }),
    ("MM", Field::Month),
    ("MI", Field::Minute),
    ("MS", Field::Millis),
    ("DAY", Field::DayName { short: false }),
    ("DDD", Field::DayOfYear),
    ("DD", Field::Day),
    ("DY", Field::DayName { short: true }),
    ("IW", Field::IsoWeek),
    ("ID", Field::WeekdayIso),
    ("WW", Field::WeekOfYear),
    ("SS", Field::Second),
    ("US", Field::Micros),
    ("A.M.", Field::Meridiem { dots: true }),
    ("P.M.", Field::Meridiem { dots: true }),
    ("AM", Field::Meridiem { dots: false }),
    ("PM", Field::Meridiem { dots: false }),
    ("Q", Field::Quarter),
    ("D", Field::WeekdaySun1),
    ("Y", Field::Year1),
];

/// PostgreSQL template fields and modifiers not implemented here: an error, not their letters.
const UNSUPPORTED: &[&str] = &[
    "SSSSS", "SSSS", "Y,YYY", "IYY", "IY", "CC", "RM", "TZH", "TZM", "TZ", "OF", "B.C.", "A.D.",
    "BC", "AD", "FX", "TM", "SP", "TH", "J", "W", "I",
];

fn starts_with_ci(text: &str, token: &str) -> bool {
    text.get(..token.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(token))
}

fn parse_template(template: &str) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut fill = true;
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            literal.push_str(&quoted[..end]);
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        if let Some(after) = rest.strip_prefix('\\') {
            if let Some(c) = after.chars().next() {
                literal.push(c);
                rest = &after[c.len_utf8()..];
            } else {
                rest = after;
            }
            continue;
        }
        if starts_with_ci(rest, "FM") {
            fill = false;
            rest = &rest[2..];
            continue;
        }
        // The longest field or unsupported pattern at this point decides (SSSS is not SS twice, IYYY is
        // not I and YYY).
        let field = FIELDS
            .iter()
            .filter(|(token, _)| starts_with_ci(rest, token))
            .max_by_key(|(token, _)| token.len());
        let unsupported = UNSUPPORTED
            .iter()
            .filter(|token| starts_with_ci(rest, token))
            .max_by_key(|token| token.len());
        if let Some(token) =
            unsupported.filter(|u| field.is_none_or(|(token, _)| u.len() > token.len()))
        {
            return exec_err!(
                "to_char: the PostgreSQL pattern {token} (in '{template}') is not supported; the \
                 supported fields are YYYY YYY YY Y IYYY MM MON MONTH DD DDD D ID DY DAY IW WW Q HH24 \
                 HH12 HH MI SS MS US AM PM and the FM prefix; put literal text in double quotes"
            );
        }
        if let Some((token, field)) = field {
            let written = &rest[..token.len()];
            let letters: Vec<char> = written.chars().filter(char::is_ascii_alphabetic).collect();
            let case = if letters.iter().all(char::is_ascii_uppercase) {
                Case::Upper
            } else if letters.iter().all(char::is_ascii_lowercase) {
                Case::Lower
            } else {
                Case::Title
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Field {
                field: *field,
                case,
                fill,
            });
            fill = true;
            rest = &rest[token.len()..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn render(template: &[Piece], at: &NaiveDateTime) -> String {
    let mut out = String::new();
    let year = i64::from(at.year());
    let hour12 = match at.hour() % 12 {
        0 => 12,
        h => h,
    };
    for piece in template {
        let (field, case, fill) = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Field { field, case, fill } => (*field, *case, *fill),
        };
        let number = |n: i64, width: usize| {
            if fill {
                if n < 0 {
                    format!("-{:0width$}", -n)
                } else {
                    format!("{n:0width$}")
                }
            } else {
                n.to_string()
            }
        };
        let name = |full: &str, short: bool| {
            let text = if short { &full[..3] } else { full };
            let text = match case {
                Case::Upper => text.to_uppercase(),
                Case::Lower => text.to_lowercase(),
                Case::Title => text.to_string(),
            };
            if fill && !short {
                format!("{text:<9}")
            } else {
                text
            }
        };
        let text = match field {
            Field::Year4 => number(year, 4),
            Field::Year3 => number(year.rem_euclid(1000), 3),
            Field::Year2 => number(year.rem_euclid(100), 2),
            Field::Year1 => number(year.rem_euclid(10), 1),
            Field::IsoYear => number(i64::from(at.iso_week().year()), 4),
            Field::Month => number(i64::from(at.month()), 2),
            Field::Day => number(i64::from(at.day()), 2),
            Field::DayOfYear => number(i64::from(at.ordinal()), 3),
            Field::WeekdaySun1 => number(i64::from(at.weekday().num_days_from_sunday()) + 1, 1),
            Field::WeekdayIso => number(i64::from(at.weekday().number_from_monday()), 1),
            Field::IsoWeek => number(i64::from(at.iso_week().week()), 2),
            Field::WeekOfYear => number(i64::from(at.ordinal0() / 7 + 1), 2),
            Field::Quarter => number(i64::from(at.month0() / 3 + 1), 1),
            Field::Hour24 => number(i64::from(at.hour()), 2),
            Field::Hour12 => number(i64::from(hour12), 2),
            Field::Minute => number(i64::from(at.minute()), 2),
            Field::Second => number(i64::from(at.second()), 2),
            Field::Millis => number(i64::from(at.nanosecond() / 1_000_000), 3),
            Field::Micros => number(i64::from(at.nanosecond() / 1_000), 6),
            Field::Meridiem { dots } => {
                let pm = at.hour() >= 12;
                let text = match (pm, dots) {
                    (false, false) => "AM",
                    (true, false) => "PM",
                    (false, true) => "A.M.",
                    (true, true) => "P.M.",
                };
                if case == Case::Lower {
                    text.to_lowercase()
                } else {
                    text.to_string()
                }
            }
            Field::MonthName { short } => name(MONTHS[at.month0() as usize], short),
            Field::DayName { short } => {
                name(DAYS[at.weekday().num_days_from_monday() as usize], short)
            }
        };
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn one(ctx: &SessionContext, sql: &str) -> Result<Option<String>> {
        let batches = ctx.sql(sql).await?.collect().await?;
        let column = datafusion::arrow::compute::cast(batches[0].column(0), &DataType::Utf8)?;
        let column = column.as_string::<i32>();
        Ok((!column.is_null(0)).then(|| column.value(0).to_string()))
    }

    #[tokio::test]
    async fn postgresql_templates_give_what_postgresql_gives() {
        let ctx = crate::models::session();
        let d = "date '2021-02-01'"; // a Monday, day 32 of the year
        let ts = "timestamp '2021-02-01 13:05:09.123456'";
        for (value, template, expected) in [
            (d, "YYYY-MM", "2021-02"),
            (d, "yyyy-mm-dd", "2021-02-01"),
            (ts, "YYYY-MM-DD HH24:MI:SS", "2021-02-01 13:05:09"),
            (ts, "HH12:MI AM", "01:05 PM"),
            (ts, "HH:MI:SS.MS.US pm", "01:05:09.123.123456 pm"),
            // FM acts on the next field only, as in PostgreSQL.
            (d, "FMDD Month YYYY", "1 February  2021"),
            (d, "FMDD FMMonth YYYY", "1 February 2021"),
            (d, "DD Month YYYY", "01 February  2021"),
            (d, "Dy, DD Mon YYYY", "Mon, 01 Feb 2021"),
            (d, "DAY MON month", "MONDAY    FEB february "),
            (d, "FMDay", "Monday"),
            (d, "YYYY\"Q\"Q", "2021Q1"),
            (d, "DDD D ID WW", "032 2 1 05"),
            ("date '2021-01-03'", "IYYY-\"W\"IW D ID", "2020-W53 1 7"),
            (
                "date '2021-11-07'",
                "YYYY-FMMM-FMDD YY YYY Y",
                "2021-11-7 21 021 1",
            ),
            (d, "\"vecka\" IW, \"år\" YYYY", "vecka 05, år 2021"),
            (
                "cast('2021-02-01T23:30:00Z' as timestamp)",
                "YYYY-MM-DD HH24:MI",
                "2021-02-01 23:30",
            ),
        ] {
            let sql = format!("select to_char({value}, '{template}')");
            assert_eq!(
                one(&ctx, &sql).await.unwrap().as_deref(),
                Some(expected),
                "{template}"
            );
        }
        // Spark's `date_format` is left to DataFusion (its `mm` is minutes, PostgreSQL's MM months).
        assert_eq!(
            one(&ctx, &format!("select date_format({d}, 'yyyy-mm')"))
                .await
                .unwrap()
                .as_deref(),
            Some("yyyy-mm")
        );
        // strftime formats are DataFusion's, as before; NULLs stay NULL.
        assert_eq!(
            one(&ctx, &format!("select to_char({d}, '%Y-%m')"))
                .await
                .unwrap()
                .as_deref(),
            Some("2021-02")
        );
        assert_eq!(
            one(&ctx, "select to_char(cast(null as date), 'YYYY-MM')")
                .await
                .unwrap(),
            None
        );
        // A column of dates, grouped by month as PostgreSQL users write it.
        let sql =
            "select to_char(d, 'YYYY-MM') as m, count(*) as n from (values (date '2021-01-31'), \
                   (date '2021-02-01'), (date '2021-02-28')) as t(d) group by 1 order by 1";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(
            text.contains("| 2021-01 | 1 |") && text.contains("| 2021-02 | 2 |"),
            "{text}"
        );
        // A PostgreSQL field not implemented is an error naming it, never its letters (the longest
        // pattern counts: SSSS is not SS twice).
        for (template, pattern) in [
            ("J", "J"),
            ("DDth", "TH"),
            ("SSSS", "SSSS"),
            ("Y,YYY", "Y,YYY"),
        ] {
            let err = one(&ctx, &format!("select to_char({d}, '{template}')"))
                .await
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("pattern {pattern} ")) && err.contains("not supported"),
                "{err}"
            );
        }
    }
}
