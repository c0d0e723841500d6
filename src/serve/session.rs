//! One DataFusion session per (published snapshot, user scope), built on first use and cached. Each
//! statement resolves `warehouse/current` once and runs in that snapshot's session, so a query never mixes
//! two snapshots and a newly published snapshot is picked up without a restart.
//!
//! A scoped user's session holds no raw table at all: every table is a filtered plan over a private
//! session's Parquet tables, so joins, subqueries and catalogue queries only ever see the allowed rows.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemorySchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DfResult;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{
    col, lit, Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::{DfSessionService, QueryHook};
use tokio::sync::Mutex;

use super::users::{Access, Scope};
use super::ServeError;
use crate::models;
use crate::warehouse::Layout;

/// Column that carries the kommunkod in warehouse tables and marts.
pub const MUNICIPALITY_COLUMN: &str = "municipality_code";
/// Column that carries the project id.
pub const PROJECT_COLUMN: &str = "project_id";

type Key = (String, String);

pub struct Sessions {
    layout: Layout,
    hooks: Vec<Arc<dyn QueryHook>>,
    cache: Mutex<HashMap<Key, Arc<DfSessionService>>>,
    /// One memory pool for every session: FOLLOWUP_MEMORY_LIMIT_MB bounds the server, however many
    /// user scopes and snapshots are being served at once.
    runtime: Arc<RuntimeEnv>,
}

impl Sessions {
    pub fn new(warehouse: &Path, hooks: Vec<Arc<dyn QueryHook>>) -> Sessions {
        Sessions {
            layout: Layout::new(warehouse),
            hooks,
            cache: Mutex::new(HashMap::new()),
            runtime: models::runtime(),
        }
    }

    /// The snapshot `current` points at now, and its load id.
    pub fn current(&self) -> Result<(String, PathBuf), ServeError> {
        let snap = self
            .layout
            .current_snapshot()
            .ok_or_else(|| ServeError::NoWarehouse(self.layout.root.clone()))?;
        let id = snap
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((id, snap))
    }

    /// The current snapshot's load id and its session for `access`.
    pub async fn service(
        &self,
        access: &Access,
    ) -> Result<(String, Arc<DfSessionService>), ServeError> {
        let (load_id, snap) = self.current()?;
        let scope_key = match access {
            Access::Full => String::new(),
            Access::Scoped(s) => s.key(),
        };
        let key = (load_id.clone(), scope_key);
        // Held while building: 32 clients arriving at a fresh snapshot build it once.
        let mut cache = self.cache.lock().await;
        if let Some(s) = cache.get(&key) {
            return Ok((load_id, s.clone()));
        }
        let ctx = build_context(&snap, access, self.runtime.clone()).await?;
        let service = Arc::new(DfSessionService::new_with_hooks(
            Arc::new(ctx),
            self.hooks.clone(),
        ));
        // Sessions of older snapshots are dropped; statements still running keep theirs alive.
        cache.retain(|(id, _), _| *id == load_id);
        cache.insert(key, service.clone());
        tracing::info!(load_id = %load_id, "serving snapshot");
        Ok((load_id, service))
    }
}

/// A session over one snapshot as `access` may see it, with pg_catalog installed.
pub async fn build_context(
    snap: &Path,
    access: &Access,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext, ServeError> {
    let base = models::session_in(runtime);
    models::register_snapshot(&base, snap)
        .await
        .map_err(|e| ServeError::Snapshot(e.to_string()))?;
    let ctx = match access {
        Access::Full => base,
        Access::Scoped(scope) => scoped_context(&base, scope).await?,
    };
    setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider)
        .map_err(|e| ServeError::Snapshot(e.to_string()))?;
    for f in super::functions::all() {
        ctx.register_udf(f);
    }
    // The pg_catalog setup rebuilt the session state from its functions, which may have put DataFusion's
    // strftime-only `to_char` back.
    models::register_to_char(&ctx);
    Ok(ctx)
}

/// Column that carries the sub-project (one per municipality) in marts without a kommunkod column.
pub const SUBPROJECT_COLUMN: &str = "subproject_id";

/// The row filter for a table with these columns, or `None` when a scoped user may not see the table
/// at all (it has no column to filter on for part of the scope). `subprojects` are the (project,
/// sub-project) pairs of the scope's municipalities: tables without a kommunkod column but with both ids
/// (e.g. `monthly_active`) are filtered by them.
pub fn scope_filter(
    schema: &SchemaRef,
    scope: &Scope,
    subprojects: &[(String, String)],
) -> Option<Expr> {
    let has = |c: &str| schema.column_with_name(c).is_some();
    let mut conds = Vec::new();
    if !scope.municipalities.is_empty() {
        if has(MUNICIPALITY_COLUMN) {
            conds.push(in_municipalities(scope));
        } else if has(PROJECT_COLUMN) && has(SUBPROJECT_COLUMN) {
            let any = subprojects
                .iter()
                .map(|(p, s)| {
                    col(PROJECT_COLUMN)
                        .eq(lit(p.clone()))
                        .and(col(SUBPROJECT_COLUMN).eq(lit(s.clone())))
                })
                .reduce(Expr::or)
                .unwrap_or(lit(false));
            conds.push(any);
        } else {
            return None;
        }
    }
    if !scope.projects.is_empty() {
        if !has(PROJECT_COLUMN) {
            return None;
        }
        conds.push(col(PROJECT_COLUMN).in_list(
            scope.projects.iter().map(|p| lit(p.clone())).collect(),
            false,
        ));
    }
    conds.into_iter().reduce(Expr::and)
}

/// The (project, sub-project) pairs whose kommunkod is in the scope, from the snapshot's `subprojects`.
async fn scope_subprojects(
    base: &SessionContext,
    scope: &Scope,
) -> Result<Vec<(String, String)>, ServeError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    if scope.municipalities.is_empty() || !base.table_exist("subprojects").unwrap_or(false) {
        return Ok(Vec::new());
    }
    let err = |e: datafusion::error::DataFusionError| ServeError::Snapshot(e.to_string());
    let batches = base
        .table("subprojects")
        .await
        .and_then(|df| {
            df.filter(in_municipalities(scope))?
                .select_columns(&[PROJECT_COLUMN, SUBPROJECT_COLUMN])
        })
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut pairs = Vec::new();
    for b in batches {
        let text = |i: usize| -> Result<Vec<Option<String>>, ServeError> {
            let c = datafusion::arrow::compute::cast(b.column(i), &DataType::Utf8)
                .map_err(|e| ServeError::Snapshot(e.to_string()))?;
            let s = c.as_string::<i32>();
            Ok((0..s.len())
                .map(|r| s.is_valid(r).then(|| s.value(r).to_string()))
                .collect())
        };
        for (p, s) in text(0)?.into_iter().zip(text(1)?) {
            if let (Some(p), Some(s)) = (p, s) {
                pairs.push((p, s));
            }
        }
    }
    Ok(pairs)
}

async fn scoped_context(
    base: &SessionContext,
    scope: &Scope,
) -> Result<SessionContext, ServeError> {
    let err = |e: datafusion::error::DataFusionError| ServeError::Snapshot(e.to_string());
    let ctx = models::session_in(base.runtime_env());
    let subprojects = scope_subprojects(base, scope).await?;
    let catalog = base
        .catalog("datafusion")
        .ok_or_else(|| ServeError::Snapshot("no default catalog".into()))?;
    for schema_name in catalog.schema_names() {
        if schema_name == "information_schema" {
            continue;
        }
        let Some(schema) = catalog.schema(&schema_name) else {
            continue;
        };
        if schema_name != "public" {
            if let Some(cat) = ctx.catalog("datafusion") {
                cat.register_schema(&schema_name, Arc::new(MemorySchemaProvider::new()))
                    .map_err(err)?;
            }
        }
        for table in schema.table_names() {
            let Some(provider) = schema.table(&table).await.map_err(err)? else {
                continue;
            };
            let Some(filter) = scope_filter(&provider.schema(), scope, &subprojects) else {
                continue;
            };
            let plan = base
                .read_table(provider)
                .and_then(|df| df.filter(filter))
                .map_err(err)?
                .into_unoptimized_plan();
            let name = if schema_name == "public" {
                table.clone()
            } else {
                format!("{schema_name}.{table}")
            };
            ctx.register_table(name, Arc::new(ScopedTable { plan }))
                .map_err(err)?;
        }
    }
    Ok(ctx)
}

/// A table that is a fixed, filtered plan over a table of another session. Reported as a base table so
/// BI tools list it like any other (`\dt`, DatabaseMetaData.getTables).
#[derive(Debug)]
struct ScopedTable {
    plan: LogicalPlan,
}

#[async_trait]
impl TableProvider for ScopedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(self.plan.schema().inner())
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        Some(Cow::Borrowed(&self.plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let mut builder = LogicalPlanBuilder::from(self.plan.clone());
        if let Some(filter) = filters.iter().cloned().reduce(Expr::and) {
            builder = builder.filter(filter)?;
        }
        if let Some(p) = projection {
            builder = builder.select(p.iter().copied())?;
        }
        if let Some(l) = limit {
            builder = builder.limit(0, Some(l))?;
        }
        let plan = builder.build()?;
        state.create_physical_plan(&plan).await
    }
}

/// `municipality_code IN (<the scope's kommunkoder>)`.
fn in_municipalities(scope: &Scope) -> Expr {
    col(MUNICIPALITY_COLUMN).in_list(
        scope
            .municipalities
            .iter()
            .map(|k| lit(k.clone()))
            .collect(),
        false,
    )
}
