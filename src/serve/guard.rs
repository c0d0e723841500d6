//! Read-only guard: every statement is classified before DataFusion sees it. Queries, EXPLAIN of a query,
//! SHOW, harmless session statements (SET, BEGIN/COMMIT/ROLLBACK, DISCARD, cursors) pass; anything that
//! could write or reach outside the warehouse is refused with SQLSTATE 25006. `SET datafusion.*` is refused
//! too: sessions are shared between connections, so engine settings are not a client's to change.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::QueryHook;
use pgwire::api::results::{Response, Tag};
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// Why a statement is refused, or `None` when it may run.
pub fn refusal(statement: &Statement) -> Option<String> {
    match statement {
        Statement::Query(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ExplainTable { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Discard { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Deallocate { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => None,
        Statement::Explain { statement, .. } => refusal(statement),
        // SQL-level PREPARE would be stored in the session, which connections share; drivers use the
        // protocol's own Parse/Bind instead.
        Statement::Prepare { .. } | Statement::Execute { .. } => Some(
            "SQL PREPARE/EXECUTE is not supported: use the driver's prepared statements"
                .to_string(),
        ),
        Statement::Declare { stmts } => stmts.iter().find_map(|d| {
            d.for_query
                .as_ref()
                .and_then(|q| refusal(&Statement::Query(q.clone())))
        }),
        Statement::Set(set) => {
            let engine_setting = match set {
                Set::SingleAssignment { variable, .. } => {
                    let name = variable.to_string().to_lowercase().replace('"', "");
                    name.starts_with("datafusion.")
                }
                Set::ParenthesizedAssignments { variables, .. } => variables
                    .iter()
                    .any(|v| v.to_string().to_lowercase().contains("datafusion.")),
                _ => false,
            };
            engine_setting.then(|| {
                "engine settings (datafusion.*) cannot be changed over this connection".to_string()
            })
        }
        other => {
            let text = other.to_string();
            let verb: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .to_uppercase();
            Some(format!(
                "followup serve is read-only: {verb} statements are not allowed"
            ))
        }
    }
}

/// A refusal: read-only (SQLSTATE 25006), or a window the engine would plan wrongly (0A000, feature
/// not supported; see [`crate::models::unsupported_window_reference`]).
fn refused(statement: &Statement) -> Option<PgWireError> {
    refusal(statement).map(read_only_error).or_else(|| {
        crate::models::unsupported_window_reference(statement).map(|message| {
            PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_string(),
                "0A000".to_string(),
                message,
            )))
        })
    })
}

fn read_only_error(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        "25006".to_string(),
        message,
    )))
}

/// The guard as the first query hook, in both the simple and the extended protocol.
#[derive(Debug)]
pub struct ReadOnlyHook;

#[async_trait]
impl QueryHook for ReadOnlyHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        refused(statement).map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        refused(statement).map(Err)
    }
}

/// Savepoints (psycopg and SQLAlchemy nest transactions with them) are accepted as no-ops.
/// `DISCARD ALL` (Npgsql sends it when a pooled connection is reused) as a no-op: sessions keep no
/// per-connection state beyond the protocol's own. `DEALLOCATE name` (psycopg drops its prepared
/// statements with it) removes the protocol-level statement; `DEALLOCATE ALL` is a no-op.
#[derive(Debug)]
pub struct DiscardHook;

fn session_statement(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::Discard { .. }
            | Statement::Deallocate { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Rollback {
                savepoint: Some(_),
                ..
            }
    )
}

fn session_response(statement: &Statement, client: &mut dyn HookClient) -> Response {
    match statement {
        Statement::Deallocate { name, .. } => {
            if name.value.eq_ignore_ascii_case("all") {
                Response::Execution(Tag::new("DEALLOCATE ALL"))
            } else {
                use pgwire::api::store::PortalStore;
                client.portal_store().rm_statement(&name.value);
                Response::Execution(Tag::new("DEALLOCATE"))
            }
        }
        // Nothing is written, so savepoints have nothing to undo; ROLLBACK TO leaves a failed
        // transaction usable again, as in PostgreSQL.
        Statement::Savepoint { .. } => Response::Execution(Tag::new("SAVEPOINT")),
        Statement::ReleaseSavepoint { .. } => Response::Execution(Tag::new("RELEASE")),
        Statement::Rollback { .. } => Response::TransactionStart(Tag::new("ROLLBACK")),
        _ => Response::Execution(Tag::new("DISCARD ALL")),
    }
}

#[async_trait]
impl QueryHook for DiscardHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        session_statement(statement).then(|| Ok(session_response(statement, client)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        session_statement(statement).then(|| {
            Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::empty()),
            }))
        })
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        session_statement(statement).then(|| Ok(session_response(statement, client)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

    fn check(sql: &str) -> Option<String> {
        let stmts = PostgresCompatibilityParser::new().parse(sql).unwrap();
        refusal(&stmts[0])
    }

    #[test]
    fn writes_are_refused_reads_pass() {
        for ok in [
            "select 1",
            "with a as (select 1) select * from a",
            "explain select 1",
            "set extra_float_digits = 3",
            "set application_name = 'x'",
            "show transaction isolation level",
            "begin",
            "begin read only",
            "commit",
            "rollback",
            "discard all",
            "deallocate all",
            "savepoint a",
            "release savepoint a",
            "rollback to savepoint a",
            "deallocate _pg3_0",
        ] {
            assert_eq!(check(ok), None, "{ok}");
        }
        for bad in [
            "insert into t values (1)",
            "update t set a = 1",
            "delete from t",
            "create table t (a int)",
            "create view v as select 1",
            "drop table enrolments",
            "copy enrolments to '/tmp/x.csv'",
            "explain analyze insert into t values (1)",
            "set datafusion.execution.target_partitions = 1",
            "alter table t add column b int",
            "truncate enrolments",
            "prepare p as select 1",
        ] {
            assert!(check(bad).is_some(), "{bad}");
        }
    }
}
