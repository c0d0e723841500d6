//! followup: nightly ETL from Swedish municipalities' ESF participant lists to a queryable regional
//! warehouse. The flow, one module per stage: config → ingest → normalise → warehouse → models; `run`
//! ties them together (and writes each snapshot's `report.html`), `query` answers SQL against a published
//! snapshot, `export` writes its published marts as XLSX, CSV or Parquet and `serve` answers over the
//! PostgreSQL wire protocol. The binary is a thin CLI.

pub mod config;
pub mod disclosure;
pub mod domain;
pub mod export;
pub mod history;
pub mod ingest;
pub mod models;
pub mod normalise;
pub mod pgformat;
pub mod progress;
pub mod query;
pub mod report;
pub mod run;
pub mod serve;
pub mod warehouse;
