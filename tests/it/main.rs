//! All integration tests in one binary, so DataFusion is linked once.

mod common;
mod e2e;
mod personnummer;
mod readers;
