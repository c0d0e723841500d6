//! The personnummer parser: any text → a validated number or an error, never a panic; and what it
//! accepts is canonical (12 characters) and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        harness::personnummer(text);
    }
});
