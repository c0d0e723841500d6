//! The Excel path: bytes → file named .xlsx → ingest::open (content sniffing, calamine) → rows →
//! canonical rows. Seeds: the xlsx/xls/ods files under tests/bad-inputs and tests/fixtures.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::quiet_panics();
    let _ = harness::file_rows(data, "xlsx");
});
