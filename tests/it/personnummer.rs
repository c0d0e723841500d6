//! The personnummer rules: forms, century, Luhn, samordningsnummer, gender digit, masking, age, HMAC.

use chrono::NaiveDate;
use followup::domain::{age_at, mask, parse_personnummer, Gender, IdKind, PnrError};
use followup::normalise::Pseudonymiser;

use crate::common::{luhn, pnr};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

// Skatteverket's published test number 1912-12-12 no. 121, check digit 2.
const TEST_PNR_12: &str = "19121212-1212";

#[test]
fn every_common_form_normalises_to_twelve_digits() {
    let reference = d(2021, 6, 30);
    for raw in [
        TEST_PNR_12,
        "191212121212",
        "121212+1212",
        " 19121212 - 1212 ",
        "19121212\u{a0}1212",
    ] {
        let p = parse_personnummer(raw, reference).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert_eq!(p.canonical, "191212121212", "{raw:?}");
        assert_eq!(p.birth_date, d(1912, 12, 12));
        assert_eq!(p.kind, IdKind::Personnummer);
        assert_eq!(p.gender, Gender::Man, "second-to-last digit 1 is odd");
    }
}

#[test]
fn ten_digits_take_the_latest_century_not_after_the_reference_date() {
    // Without '+', 121212 is 2012 when the export is from 2021 ...
    let p = parse_personnummer("121212-1212", d(2021, 6, 30)).unwrap();
    assert_eq!(p.canonical, "201212121212");
    // ... but 1912 when the export is from 2010, before 2012-12-12.
    let p = parse_personnummer("121212-1212", d(2010, 1, 1)).unwrap();
    assert_eq!(p.canonical, "191212121212");
    // A date later in the reference year is the previous century.
    let n = pnr(1985, 12, 24, 345);
    let short = &n[2..];
    let p = parse_personnummer(short, d(2021, 6, 30)).unwrap();
    assert_eq!(p.birth_date, d(1985, 12, 24));
}

#[test]
fn plus_means_a_hundred_years_older() {
    let p = parse_personnummer("121212+1212", d(2021, 6, 30)).unwrap();
    assert_eq!(p.birth_date, d(1912, 12, 12));
    let n = pnr(2015, 3, 1, 222);
    let plus = format!("{}+{}", &n[2..8], &n[9..]);
    let p = parse_personnummer(&plus, d(2021, 6, 30)).unwrap();
    assert_eq!(p.birth_date, d(1915, 3, 1));
}

#[test]
fn luhn_check_digit_is_enforced() {
    assert_eq!(
        parse_personnummer("19121212-1213", d(2021, 1, 1)),
        Err(PnrError::Checksum)
    );
    assert_eq!(
        parse_personnummer("121212-1211", d(2021, 1, 1)),
        Err(PnrError::Checksum)
    );
}

#[test]
fn samordningsnummer_has_day_plus_sixty() {
    // Skatteverket's example: 3 October 1970, birth number 239.
    let p = parse_personnummer("701063-2391", d(2021, 1, 1)).unwrap();
    assert_eq!(p.kind, IdKind::Samordningsnummer);
    assert_eq!(p.birth_date, d(1970, 10, 3));
    assert_eq!(p.canonical, "197010632391");
    assert_eq!(p.gender, Gender::Man);
}

#[test]
fn gender_digit_even_is_woman_odd_is_man() {
    let w = pnr(1990, 5, 20, 244);
    let m = pnr(1990, 5, 20, 245);
    assert_eq!(
        parse_personnummer(&w, d(2021, 1, 1)).unwrap().gender,
        Gender::Woman
    );
    assert_eq!(
        parse_personnummer(&m, d(2021, 1, 1)).unwrap().gender,
        Gender::Man
    );
}

#[test]
fn impossible_dates_serial_000_and_bad_forms_are_rejected() {
    let r = d(2021, 1, 1);
    // Month 13, checksum valid.
    let nine = "901320123";
    let bad_month = format!("19901320-123{}", luhn(nine));
    assert_eq!(parse_personnummer(&bad_month, r), Err(PnrError::Date));
    // Birth number 000 is never issued.
    let zero = format!("19900520-000{}", luhn("900520000"));
    assert_eq!(parse_personnummer(&zero, r), Err(PnrError::Serial));
    // Excel's scientific notation has lost digits.
    assert_eq!(
        parse_personnummer("1,99001E+11", r),
        Err(PnrError::Scientific)
    );
    // A leading zero lost by Excel: 9 digits.
    assert_eq!(parse_personnummer("512121212", r), Err(PnrError::Length(9)));
    assert_eq!(
        parse_personnummer("19121212-12X2", r),
        Err(PnrError::Characters)
    );
    // Born after the reference date.
    let future = pnr(2022, 1, 1, 123);
    assert!(matches!(
        parse_personnummer(&future, r),
        Err(PnrError::Future(_))
    ));
}

#[test]
fn protected_identity_placeholder_is_accepted() {
    let p = parse_personnummer("19850312TF29", d(2021, 1, 1)).unwrap();
    assert_eq!(p.kind, IdKind::ProtectedIdentity);
    assert_eq!(p.birth_date, d(1985, 3, 12));
    assert_eq!(p.gender, Gender::Woman);
}

#[test]
fn masking_keeps_the_date_and_hides_the_rest() {
    assert_eq!(mask(TEST_PNR_12), "19121212-****");
    assert_eq!(mask("121212-1212"), "121212-****");
    assert_eq!(mask("pnr 191212121212 fel"), "pnr 19121212**** fel");
    assert_eq!(mask("7,5"), "7,5");
    assert_eq!(mask("2021-05-01"), "2021-05-01");
    // Debug output never shows the number either.
    let p = parse_personnummer(TEST_PNR_12, d(2021, 1, 1)).unwrap();
    assert!(!format!("{p:?}").contains("1212121212"));
}

#[test]
fn age_counts_whole_years_and_leap_days() {
    assert_eq!(age_at(d(2000, 2, 29), d(2021, 2, 28)), 20);
    assert_eq!(age_at(d(2000, 2, 29), d(2021, 3, 1)), 21);
    assert_eq!(age_at(d(1990, 5, 20), d(2021, 5, 20)), 31);
    assert_eq!(age_at(d(1990, 5, 20), d(2021, 5, 19)), 30);
}

#[test]
fn pseudonym_is_hmac_sha256_truncated_to_128_bits_rfc4231_vectors() {
    // RFC 4231 test case 1: key = 0x0b * 20, data = "Hi There"; the pseudonym is the digest's first 128 bits.
    let p = Pseudonymiser::new(&[0x0b; 20]);
    assert_eq!(p.pseudonym("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b");
    // Cached and stable; another key gives another pseudonym.
    assert_eq!(p.pseudonym("Hi There"), "b0344c61d8db38535ca8afceaf0bf12b");
    let q = Pseudonymiser::new(&[0x0c; 20]);
    assert_ne!(q.pseudonym("Hi There"), p.pseudonym("Hi There"));
    // RFC 4231 test case 5 is HMAC-SHA-256 truncated to 128 bits itself.
    assert_eq!(
        q.pseudonym("Test With Truncation"),
        "a3b6167473100ee06e0c796c2955552b"
    );
}
