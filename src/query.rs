//! `followup query`: SQL against the published warehouse (`current`), read-only, with output as a table,
//! CSV, JSON or Parquet.

use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;

use crate::models::{self, ModelError};
use crate::warehouse::{self, Layout, WarehouseError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no published warehouse at {0}: run `followup run` first")]
    NoWarehouse(PathBuf),
    #[error("{0}")]
    Sql(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("--format parquet needs --output FILE")]
    ParquetNeedsOutput,
    #[error("writing the result: {0}")]
    Output(String),
}

/// A read-only session over the current snapshot, with every table and mart registered.
pub async fn open_current(
    warehouse_dir: &Path,
) -> Result<datafusion::prelude::SessionContext, QueryError> {
    let layout = Layout::new(warehouse_dir);
    let snap = layout
        .current_snapshot()
        .ok_or_else(|| QueryError::NoWarehouse(warehouse_dir.to_path_buf()))?;
    let ctx = models::session();
    models::register_snapshot(&ctx, &snap).await?;
    Ok(ctx)
}

pub async fn execute(
    warehouse_dir: &Path,
    sql: &str,
) -> Result<(Schema, Vec<RecordBatch>), QueryError> {
    let ctx = open_current(warehouse_dir).await?;
    if let Some(message) = models::unsupported_window_reference_in(&ctx, sql) {
        return Err(QueryError::Sql(message));
    }
    let df = ctx
        .sql_with_options(sql, models::read_only())
        .await
        .map_err(|e| {
            let message = with_table_hint(&ctx, models::engine_message(&e));
            QueryError::Sql(crate::domain::mask(&message))
        })?;
    let schema = df.schema().as_arrow().clone();
    let batches = df
        .collect()
        .await
        .map_err(|e| QueryError::Sql(crate::domain::mask(&models::engine_message(&e))))?;
    Ok((schema, batches))
}

/// DataFusion's "table 'datafusion.public.enrolment' not found" names no table that is there: add the
/// closest names, as the user would write them (`enrolments`, `published.regional_overview`), and how to
/// list them all.
fn with_table_hint(ctx: &datafusion::prelude::SessionContext, message: String) -> String {
    let Some(missing) = message
        .split("table '")
        .nth(1)
        .and_then(|rest| rest.split_once("' not found"))
        .map(|(name, _)| name.to_string())
    else {
        return message;
    };
    let as_written = |schema: &str, table: &str| {
        if schema == "public" {
            table.to_string()
        } else {
            format!("{schema}.{table}")
        }
    };
    let wanted = match missing.split('.').collect::<Vec<_>>()[..] {
        [_, schema, table] | [schema, table] => as_written(schema, table),
        _ => missing.clone(),
    };
    let mut known = Vec::new();
    if let Some(catalog) = ctx.catalog("datafusion") {
        for schema in catalog.schema_names() {
            if schema == "information_schema" {
                continue;
            }
            if let Some(tables) = catalog.schema(&schema) {
                known.extend(tables.table_names().iter().map(|t| as_written(&schema, t)));
            }
        }
    }
    let distance = |name: &String| strsim::levenshtein(&wanted, name);
    let best = known.iter().map(distance).min();
    let close: Vec<&String> = match best {
        Some(d) if d <= (wanted.chars().count() / 4).max(2) => {
            let mut names: Vec<&String> = known.iter().filter(|n| distance(n) == d).collect();
            names.sort();
            names.truncate(3);
            names
        }
        _ => Vec::new(),
    };
    let list = "`followup query \"show tables\"` lists every table";
    if close.is_empty() {
        format!("{message} ({list})")
    } else {
        let names: Vec<&str> = close.iter().map(|n| n.as_str()).collect();
        format!("{message}: did you mean {}? ({list})", names.join(" or "))
    }
}

/// Write a result in the asked format to `out` (or, for Parquet, to `output`).
pub fn write_result(
    schema: &Schema,
    batches: &[RecordBatch],
    format: OutputFormat,
    output: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), QueryError> {
    let oerr = |e: &dyn std::fmt::Display| QueryError::Output(e.to_string());
    match format {
        OutputFormat::Table => {
            let text = datafusion::arrow::util::pretty::pretty_format_batches(batches)
                .map_err(|e| oerr(&e))?;
            writeln!(out, "{text}").map_err(|e| oerr(&e))?;
        }
        OutputFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                let empty = RecordBatch::new_empty(std::sync::Arc::new(schema.clone()));
                w.write(&empty).map_err(|e| oerr(&e))?;
            }
            for b in batches {
                w.write(b).map_err(|e| oerr(&e))?;
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs).map_err(|e| oerr(&e))?;
            w.finish().map_err(|e| oerr(&e))?;
            let inner = w.into_inner();
            writeln!(inner).map_err(|e| oerr(&e))?;
        }
        OutputFormat::Parquet => {
            let path = output.ok_or(QueryError::ParquetNeedsOutput)?;
            let mut sink =
                warehouse::ParquetSink::create(path, std::sync::Arc::new(schema.clone()))?;
            for b in batches {
                sink.write(b)?;
            }
            sink.finish()?;
        }
    }
    Ok(())
}
