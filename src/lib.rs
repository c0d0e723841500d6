//! followup: nightly ETL from Swedish municipalities' ESF participant lists to a queryable regional
//! warehouse. The flow, one module per stage: config → ingest → normalise → warehouse → models; `run`
//! ties them together and `query` answers SQL against a published snapshot and `serve` over the PostgreSQL wire protocol. The binary is a thin CLI.

pub mod config;
pub mod disclosure;
pub mod domain;
pub mod history;
pub mod ingest;
pub mod models;
pub mod normalise;
pub mod progress;
pub mod query;
pub mod run;
pub mod serve;
pub mod warehouse;
