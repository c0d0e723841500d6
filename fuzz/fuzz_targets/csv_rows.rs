//! The CSV path: bytes → file → ingest::open → find_header → rows → canonical rows (normalise).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    harness::quiet_panics();
    let _ = harness::file_rows(data, "csv");
});
