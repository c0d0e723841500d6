//! All integration tests in one binary, so DataFusion is linked once.

mod common;
mod disclosure;
mod e2e;
mod nightly;
mod personnummer;
mod readers;
mod serve;
