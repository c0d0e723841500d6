//! All integration tests in one binary, so DataFusion is linked once.

mod bad_inputs;
mod common;
mod disclosure;
mod e2e;
mod export;
mod models;
mod nightly;
mod personnummer;
mod readers;
mod report;
mod serve;
