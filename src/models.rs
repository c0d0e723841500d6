//! SQL models: plain SQL files under `sql/`, one SELECT each, named after the file. Dependencies are read
//! from the parsed statement's table references (like dbt's `ref`, without Jinja) and the models run in that
//! order with DataFusion, DDL/DML/statements switched off. Each result is written as Parquet and registered
//! for the models after it. Files under `sql/tests/` are data tests: queries returning the failing rows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::ParquetReadOptions;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, NamedWindowDefinition, NamedWindowExpr, Select, Statement, Visit, Visitor,
    WindowType,
};
use futures::StreamExt;
use std::ops::ControlFlow;

use crate::warehouse::{ParquetSink, WarehouseError};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Sql { path: PathBuf, message: String },
    #[error("models form a cycle: {0}")]
    Cycle(String),
    #[error("model `{name}` is defined twice: {a} and {b}")]
    Duplicate {
        name: String,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("registering table {name}: {message}")]
    Register { name: String, message: String },
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    pub deps: Vec<String>,
    pub is_test: bool,
    pub severity: Severity,
}

/// A session configured for the warehouse, with a memory pool of its own (see `session_in`).
pub fn session() -> SessionContext {
    session_in(runtime())
}

/// The engine's runtime: a bounded memory pool of `FOLLOWUP_MEMORY_LIMIT_MB`. A process that runs several
/// sessions at once (`followup serve`: one per snapshot and user scope) shares one runtime, so the limit
/// bounds the process, not each session.
pub fn runtime() -> Arc<RuntimeEnv> {
    let limit = memory_limit_bytes();
    // A bounded pool: a model over millions of enrolments spills (sorts, aggregates) or fails with
    // "resources exhausted" instead of taking the machine. Greedy, not fair: a fair pool caps every
    // spilling operator at an equal share, and a model runs dozens at once, so each spilled at a fraction
    // of the limit (a 3 M-row aggregate spilled six times under a 4 GiB pool and ran 5× slower).
    // Tracked: past the limit, the error names the three operators holding the most (and whether they
    // could spill), which tells which model's step to rewrite or how much to raise the limit.
    let pool = datafusion::execution::memory_pool::TrackConsumersPool::new(
        datafusion::execution::memory_pool::GreedyMemoryPool::new(limit),
        std::num::NonZeroUsize::MIN.saturating_add(2),
    );
    match datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .build_arc()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!("memory pool not set up ({e}); running without a limit");
            Arc::new(RuntimeEnv::default())
        }
    }
}

/// A session configured for the warehouse over `runtime`: plain Utf8 strings (what BI tools and Parquet
/// readers expect), partitions sized to the memory pool, joins that yield as they emit (`YieldingJoins`),
/// `person_key()` and PostgreSQL's `to_char`.
/// DataFusion's own settings can be tuned with its environment variables
/// (`DATAFUSION_EXECUTION_BATCH_SIZE`, …); the string types are always ours.
pub fn session_in(runtime: Arc<RuntimeEnv>) -> SessionContext {
    let config = SessionConfig::from_env().unwrap_or_else(|e| {
        tracing::warn!("DATAFUSION_* environment variables ignored: {e}");
        SessionConfig::new()
    });
    let mut config = config.with_information_schema(true);
    if std::env::var_os("DATAFUSION_EXECUTION_TARGET_PARTITIONS").is_none() {
        // One partition per core, but at least 64 MB of the pool each: every partition's sort keeps
        // 10 MB for its merge, so a small limit on a many-core machine would fail before any data.
        let limit = match runtime.memory_pool.memory_limit() {
            datafusion::execution::memory_pool::MemoryLimit::Finite(n) => n,
            _ => usize::MAX,
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let by_memory = (limit / (64 * 1024 * 1024)).max(1);
        config = config.with_target_partitions(cores.min(by_memory));
    }
    let opts = config.options_mut();
    opts.execution.parquet.schema_force_view_types = false;
    opts.sql_parser.map_string_types_to_utf8view = false;
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(YieldingJoins))
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(person_key_udf());
    register_to_char(&ctx);
    ctx
}

/// Joins made to yield to the scheduler with every batch they emit (through DataFusion's `CooperativeExec`),
/// not only when they read their inputs. A join can emit many batches per batch it reads (a cartesian
/// product: one per row of its buffered side), and DataFusion yields only at its leaves and exchanges, so
/// a statement stopped by a cancel request or its timeout kept its cores busy until it next read its
/// inputs: for a cross join of two million-row inputs, most of an hour. An aborted task ends at its next
/// yield; with this rule, a batch later. (A nested-loop join that emits nothing for a long stretch still
/// runs until it emits or reads: DataFusion loops inside one poll there.)
#[derive(Debug)]
struct YieldingJoins;

impl datafusion::physical_optimizer::PhysicalOptimizerRule for YieldingJoins {
    fn optimize(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        _config: &datafusion::config::ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::common::tree_node::{Transformed, TreeNode};
        use datafusion::physical_plan::coop::CooperativeExec;
        plan.transform_up(|node| {
            if node.name().ends_with("JoinExec") {
                let wrapped: Arc<dyn datafusion::physical_plan::ExecutionPlan> =
                    Arc::new(CooperativeExec::new(node));
                Ok(Transformed::yes(wrapped))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "yielding_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `to_char` with PostgreSQL templates as well as strftime formats (see `pgformat`). DataFusion's own stays
/// registered as `date_format` under its name `to_char`, so a session state rebuilt from its functions
/// (datafusion-postgres's pg_catalog setup does so) can put it back as `to_char` in hash-map order: call
/// this again after such a rebuild.
pub fn register_to_char(ctx: &SessionContext) {
    ctx.register_udf(crate::pgformat::to_char_udf());
}

/// `person_key(participant_id)`: a 64-bit integer standing for a pseudonym inside the models, which group and
/// join on it far faster than on 64-character text. It is the pseudonym's first 16 hex digits (an HMAC
/// prefix); any other text is hashed. Two people share a key with probability about n²/2⁶⁵ (3 in a million
/// at 10 million people); the data test `person_key_unique` names the key (with a warning) if it happens.
fn person_key_udf() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, Int64Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
    create_udf(
        "person_key",
        vec![DataType::Utf8],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let Some(ids) = arrays.first().and_then(|a| a.as_string_opt::<i32>()) else {
                return datafusion::common::exec_err!("person_key: expected one text argument");
            };
            let keys: Int64Array = ids.iter().map(|id| id.map(person_key)).collect();
            Ok(ColumnarValue::Array(Arc::new(keys) as Arc<dyn Array>))
        }),
    )
}

fn person_key(id: &str) -> i64 {
    let hex = id.as_bytes().get(..16).and_then(|prefix| {
        prefix.iter().try_fold(0u64, |acc, &b| {
            let digit = (b as char).to_digit(16)?;
            Some(acc << 4 | u64::from(digit))
        })
    });
    let key = hex.unwrap_or_else(|| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    });
    key as i64
}

/// An engine error as said to the user. Running out of the memory pool ("Resources exhausted") also says
/// what the limit is and how to raise it: the engine's own words name only the operator and its bytes.
pub fn engine_message(e: &datafusion::error::DataFusionError) -> String {
    let text = e.to_string();
    let exhausted = matches!(
        e.find_root(),
        datafusion::error::DataFusionError::ResourcesExhausted(_)
    ) || text.contains("Resources exhausted");
    if exhausted {
        format!(
            "{text}. The SQL engine's memory limit is {} MB (FOLLOWUP_MEMORY_LIMIT_MB, by default half \
             the machine's memory): raise it if the machine has more to give",
            memory_limit_bytes() / (1024 * 1024)
        )
    } else {
        text
    }
}

/// The query memory limit: `FOLLOWUP_MEMORY_LIMIT_MB`, else half the machine's memory (8 GiB if unknown).
fn memory_limit_bytes() -> usize {
    let default_mb = physical_memory_mb().map_or(8192, |m| m / 2);
    let mb = match std::env::var("FOLLOWUP_MEMORY_LIMIT_MB") {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            tracing::warn!(value = %v, "FOLLOWUP_MEMORY_LIMIT_MB is not a whole number of MB; using {default_mb}");
            default_mb
        }),
        Err(_) => default_mb,
    };
    if mb < 64 {
        tracing::warn!(
            value = mb,
            "FOLLOWUP_MEMORY_LIMIT_MB is below the 64 MB the engine needs to start; using 64"
        );
    }
    mb.max(64) * 1024 * 1024
}

/// The process's peak resident memory so far (VmHWM, Linux), in MiB. Linux sums resident memory from
/// per-CPU counters, so VmHWM read twice can seem to fall by a MiB; the peak reported never does.
pub fn peak_rss_mib() -> Option<u64> {
    static SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = proc_kb("/proc/self/status", "VmHWM:")? / 1024;
    Some(
        SEEN.fetch_max(now, std::sync::atomic::Ordering::Relaxed)
            .max(now),
    )
}

/// MemTotal (Linux), in MB.
fn physical_memory_mb() -> Option<usize> {
    proc_kb("/proc/meminfo", "MemTotal:").and_then(|kb| usize::try_from(kb / 1024).ok())
}

/// A `Name:   1234 kB` line of a /proc file, in kB.
fn proc_kb(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// A window named in a query's WINDOW clause and referred to inside parentheses — `max(x) OVER (w)`,
/// `OVER (w ROWS BETWEEN …)`, or `WINDOW w2 AS (w1 ORDER BY …)` — as PostgreSQL allows. DataFusion 55
/// resolves only the bare form `OVER w`; inside parentheses it drops the name without a word, so the
/// function runs without w's PARTITION BY and ORDER BY and returns other numbers (`max(x) OVER (w)`
/// gives the maximum of the whole result on every row). Such a statement is refused, with what to
/// write instead, before it is planned: by `followup query`, `followup serve` and the models.
pub fn unsupported_window_reference(statement: &Statement) -> Option<String> {
    struct Finder(Option<String>);
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<()> {
            if let SqlExpr::Function(f) = expr {
                if let Some(WindowType::WindowSpec(spec)) = &f.over {
                    if let Some(name) = &spec.window_name {
                        self.0 = Some(format!(
                            "{}(…) OVER ({name} …) names the window {name} inside parentheses, which the \
                             query engine does not apply (it would leave out {name}'s PARTITION BY and \
                             ORDER BY and give wrong numbers): write OVER {name} without parentheses, or \
                             spell the window out, as in OVER (PARTITION BY … ORDER BY … ROWS BETWEEN …)",
                            f.name
                        ));
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
            for NamedWindowDefinition(name, def) in &select.named_window {
                if let NamedWindowExpr::WindowSpec(spec) = def {
                    if let Some(base) = &spec.window_name {
                        self.0 = Some(format!(
                            "WINDOW {name} AS ({base} …) defines a window from another inside \
                             parentheses, which the query engine does not apply (it would leave out \
                             {base}'s PARTITION BY and ORDER BY and give wrong numbers): spell {name} out, \
                             as in WINDOW {name} AS (PARTITION BY … ORDER BY …)"
                        ));
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder(None);
    let _ = statement.visit(&mut finder);
    finder.0
}

/// [`unsupported_window_reference`] over SQL text; text that does not parse is left to the planner,
/// which says why.
pub fn unsupported_window_reference_in(ctx: &SessionContext, sql: &str) -> Option<String> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).ok()?;
    unsupported_window_reference_df(&statement)
}

fn unsupported_window_reference_df(statement: &DFStatement) -> Option<String> {
    match statement {
        DFStatement::Statement(s) => unsupported_window_reference(s),
        DFStatement::Explain(e) => unsupported_window_reference_df(&e.statement),
        _ => None,
    }
}

/// Register every table of a snapshot folder: `<name>.parquet` files and `<name>/` folders of parts.
pub async fn register_snapshot(
    ctx: &SessionContext,
    dir: &Path,
) -> Result<Vec<String>, ModelError> {
    let mut names = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if stem.starts_with('.') {
            continue;
        }
        let is_table = p.is_dir() || p.extension().is_some_and(|e| e == "parquet");
        if !is_table {
            continue;
        }
        if stem == "published" && p.is_dir() {
            register_published(ctx, &p).await?;
            continue;
        }
        register_parquet(ctx, &stem, &p).await?;
        names.push(stem);
    }
    Ok(names)
}

/// The disclosure-controlled marts, as schema `published` (`select * from published.regional_overview`).
async fn register_published(ctx: &SessionContext, dir: &Path) -> Result<(), ModelError> {
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| ModelError::Register {
            name: "published".into(),
            message: "no default catalog".into(),
        })?;
    if catalog.schema("published").is_none() {
        catalog
            .register_schema(
                "published",
                Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
            )
            .map_err(|e| ModelError::Register {
                name: "published".into(),
                message: e.to_string(),
            })?;
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    paths.sort();
    for p in paths {
        if let Some(stem) = p.file_stem().map(|s| s.to_string_lossy().into_owned()) {
            register_parquet(ctx, &format!("published.{stem}"), &p).await?;
        }
    }
    Ok(())
}

pub async fn register_parquet(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> Result<(), ModelError> {
    let _ = ctx.deregister_table(name);
    let mut url = path.to_string_lossy().into_owned();
    if path.is_dir() && !url.ends_with('/') {
        url.push('/');
    }
    ctx.register_parquet(name, &url, ParquetReadOptions::default())
        .await
        .map_err(|e| ModelError::Register {
            name: name.to_string(),
            message: e.to_string(),
        })
}

fn collect_sql_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ModelError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_sql_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "sql") {
            out.push(p);
        }
    }
    Ok(())
}

/// Read and order the models of a folder. `sources` are the tables the warehouse provides.
pub fn discover(ctx: &SessionContext, dir: &Path) -> Result<Vec<Model>, ModelError> {
    let mut files = Vec::new();
    collect_sql_files(dir, &mut files)?;
    files.sort();
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut models: BTreeMap<String, Model> = BTreeMap::new();
    for path in files {
        let sql = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stmt = state
            .sql_to_statement(&sql, &dialect)
            .map_err(|e| ModelError::Sql {
                path: path.clone(),
                message: format!("expected one SQL query: {e}"),
            })?;
        if let Some(message) = unsupported_window_reference_df(&stmt) {
            return Err(ModelError::Sql { path, message });
        }
        let deps: Vec<String> = state
            .resolve_table_references(&stmt)
            .map_err(|e| ModelError::Sql {
                path: path.clone(),
                message: e.to_string(),
            })?
            .into_iter()
            .map(|t| t.table().to_string())
            .collect();
        let is_test = path
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "tests");
        let severity = if sql
            .lines()
            .any(|l| l.trim().trim_start_matches("--").trim() == "severity: warn")
        {
            Severity::Warn
        } else {
            Severity::Error
        };
        let model = Model {
            name: name.clone(),
            path: path.clone(),
            sql,
            deps,
            is_test,
            severity,
        };
        if let Some(prev) = models.insert(name.clone(), model) {
            return Err(ModelError::Duplicate {
                name,
                a: prev.path,
                b: path,
            });
        }
    }
    // Topological order (Kahn), ties by name, tests last.
    let names: BTreeSet<String> = models
        .values()
        .filter(|m| !m.is_test)
        .map(|m| m.name.clone())
        .collect();
    let mut ordered = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut pending: Vec<&Model> = models.values().filter(|m| !m.is_test).collect();
    while !pending.is_empty() {
        let (ready, rest): (Vec<&Model>, Vec<&Model>) = pending.into_iter().partition(|m| {
            m.deps
                .iter()
                .all(|d| !names.contains(d) || done.contains(d) || *d == m.name)
        });
        if ready.is_empty() {
            return Err(ModelError::Cycle(
                rest.iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        for m in ready {
            done.insert(m.name.clone());
            ordered.push(m.clone());
        }
        pending = rest;
    }
    ordered.extend(models.values().filter(|m| m.is_test).cloned());
    Ok(ordered)
}

/// Run a query and stream its result into a Parquet file. Returns the number of rows.
pub async fn materialise(
    ctx: &SessionContext,
    model: &Model,
    out: &Path,
) -> Result<u64, ModelError> {
    let sql_err = |e: datafusion::error::DataFusionError| ModelError::Sql {
        path: model.path.clone(),
        message: engine_message(&e),
    };
    let df = ctx
        .sql_with_options(&model.sql, read_only())
        .await
        .map_err(sql_err)?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await.map_err(sql_err)?;
    let mut sink = ParquetSink::create(out, schema)?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(sql_err)?;
        sink.write(&batch)?;
    }
    Ok(sink.finish()?)
}

/// Build every model (not the tests) in order, each written to `output/<name>.parquet` and registered for
/// the models after it. Returns (model, rows) in build order.
pub async fn build(
    ctx: &SessionContext,
    models: &[Model],
    output: &Path,
) -> Result<Vec<(String, u64)>, ModelError> {
    let mut built = Vec::new();
    for m in models.iter().filter(|m| !m.is_test) {
        let out = output.join(format!("{}.parquet", m.name));
        let started = std::time::Instant::now();
        let rows = materialise(ctx, m, &out).await?;
        register_parquet(ctx, &m.name, &out).await?;
        // Its time, and the process's peak memory so far: a nightly log (and the benchmarks) show which
        // model is slow and which one raised the peak.
        tracing::info!(
            model = %m.name,
            rows,
            elapsed_ms = started.elapsed().as_millis() as u64,
            peak_rss_mib = peak_rss_mib(),
            "model built"
        );
        built.push((m.name.clone(), rows));
    }
    Ok(built)
}

/// The models alone over a folder laid out like a snapshot (the benchmarks' workload e).
pub async fn build_all(
    input: &Path,
    sql_dir: &Path,
    output: &Path,
) -> Result<Vec<(String, u64)>, ModelError> {
    let ctx = session();
    register_snapshot(&ctx, input).await?;
    let list = discover(&ctx, sql_dir)?;
    build(&ctx, &list, output).await
}

/// Run a data test: the failing rows (at most `limit`) and their total count.
pub async fn run_test(
    ctx: &SessionContext,
    model: &Model,
) -> Result<(u64, Vec<RecordBatch>), ModelError> {
    let sql_err = |e: datafusion::error::DataFusionError| ModelError::Sql {
        path: model.path.clone(),
        message: engine_message(&e),
    };
    let df = ctx
        .sql_with_options(&model.sql, read_only())
        .await
        .map_err(sql_err)?;
    let batches = df.collect().await.map_err(sql_err)?;
    let n = batches.iter().map(|b| b.num_rows() as u64).sum();
    Ok((n, batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn person_key_is_the_pseudonyms_hex_prefix_and_hashes_other_text() {
        let ctx = session();
        let pseudonym = format!("{}{}", "0123456789abcdef", "a".repeat(48));
        let other = format!("{}{}", "0123456789abcdef", "b".repeat(48));
        let sql = format!(
            "select person_key('{pseudonym}') as a, person_key('{other}') as b, \
             person_key('ffffffffffffffff') as c, person_key('not hex at all') as d, \
             person_key('not hex at all') as e, person_key('not hex at alm') as f, \
             person_key(cast(null as varchar)) as g"
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let row: Vec<Option<i64>> = (0..7)
            .map(|i| {
                use datafusion::arrow::array::{Array, AsArray};
                let col = batches[0].column(i);
                let col = col.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                (!col.is_null(0)).then(|| col.value(0))
            })
            .collect();
        assert_eq!(row[0], Some(0x0123_4567_89ab_cdef));
        // Only the first 16 hex digits count: pseudonyms sharing them share a key (the data test warns).
        assert_eq!(row[0], row[1]);
        assert_eq!(row[2], Some(-1));
        assert_eq!(row[3], row[4]);
        assert_ne!(row[3], row[5]);
        assert_eq!(row[6], None);
    }

    /// Running max of 3, 1, 2 in the order of x, as text "x:max" per row.
    async fn running(ctx: &SessionContext, over: &str) -> Vec<String> {
        let sql = format!(
            "select x, max(x) {over} as m from (values (3), (1), (2)) as t(x) \
             window w as (order by x) order by x"
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        text.lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                (cells.len() == 4 && cells[1].parse::<i64>().is_ok())
                    .then(|| format!("{}:{}", cells[1], cells[2]))
            })
            .collect()
    }

    #[tokio::test]
    async fn a_window_named_inside_parentheses_is_refused_and_the_bare_name_works() {
        let ctx = session();
        // What the refusal guards against: DataFusion drops the name inside parentheses. When an
        // upgrade makes this assertion fail, the engine applies the name and the refusal can go.
        assert_eq!(running(&ctx, "over (w)").await, ["1:3", "2:3", "3:3"]);
        // What it suggests instead gives the running maximum.
        assert_eq!(running(&ctx, "over w").await, ["1:1", "2:2", "3:3"]);
        assert_eq!(
            running(
                &ctx,
                "over (order by x rows between unbounded preceding and current row)"
            )
            .await,
            ["1:1", "2:2", "3:3"]
        );
        for bad in [
            "select max(x) over (w) from t window w as (order by x)",
            "select sum(x) over (w rows between unbounded preceding and 1 preceding) from t window w as (order by x)",
            "select a from (select max(x) over (w) as a from t window w as (order by x)) as s",
            "with c as (select min(x) over (w order by y) as a from t window w as (partition by z)) select * from c",
            "select 1 from t where x in (select lag(x) over (w) from u window w as (order by x))",
            "explain select max(x) over (w) from t window w as (order by x)",
            "select max(x) over w2 from t window w1 as (partition by y), w2 as (w1 order by x)",
        ] {
            let message = unsupported_window_reference_in(&ctx, bad);
            let message = message.unwrap_or_else(|| panic!("not refused: {bad}"));
            assert!(message.contains("without parentheses") || message.contains("spell"), "{message}");
        }
        let m = unsupported_window_reference_in(
            &ctx,
            "select max(x) over (w) from t window w as (order by x)",
        );
        assert!(m.is_some_and(|m| m.starts_with("max(…) OVER (w …)")));
        for good in [
            "select max(x) over w from t window w as (order by x)",
            "select max(x) over (order by x), row_number() over (partition by y order by x) from t",
            "select sum(x) over (partition by y order by x rows between unbounded preceding and current row) from t",
            "select max(x) from t",
            "select x from t window w as (order by x)",
            "not sql at all",
        ] {
            assert_eq!(unsupported_window_reference_in(&ctx, good), None, "{good}");
        }
    }

    #[tokio::test]
    async fn a_model_naming_a_window_inside_parentheses_is_an_error_naming_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("marts")).unwrap();
        let path = dir.path().join("marts").join("running.sql");
        std::fs::write(
            &path,
            "select x, max(x) over (w) as m from (values (1)) as t(x) window w as (order by x)\n",
        )
        .unwrap();
        match discover(&session(), dir.path()) {
            Err(ModelError::Sql { path: p, message }) => {
                assert_eq!(p, path);
                assert!(message.contains("OVER w without parentheses"), "{message}");
            }
            other => panic!("expected the model to be refused, got {other:?}"),
        }
        std::fs::write(
            &path,
            "select x, max(x) over w as m from (values (1)) as t(x) window w as (order by x)\n",
        )
        .unwrap();
        let models = discover(&session(), dir.path()).unwrap();
        assert_eq!(models.len(), 1);
    }
}
