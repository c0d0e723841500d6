//! The pgwire handlers: per statement, find the connection's user, pick the session of the current
//! snapshot for that user's scope, and hand the statement to datafusion-postgres's service for it.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser;
use datafusion_postgres::{DfSessionService, Parser};
use futures::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ErrorHandler, PgWireServerHandlers, Type, METADATA_USER,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use super::auth::{AuthConfig, StartupAuth};
use super::session::Sessions;
use super::statement::{Connections, QueryRuntime, Stop};
use super::users::Access;
use super::ServeError;

type Statement = (String, Option<(sqlparser::ast::Statement, LogicalPlan)>);

pub struct Handlers {
    pub service: Arc<FollowupService>,
    pub auth: Arc<AuthConfig>,
    pub connections: Arc<Connections>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        // Called once per connection: the SCRAM exchange state is the connection's own.
        Arc::new(StartupAuth::new(
            self.auth.clone(),
            self.connections.clone(),
        ))
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.connections.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        // A client's own SQL can be echoed in the error (a literal that does not cast, a name): the log
        // keeps at most the date part of anything shaped like an identity number.
        tracing::info!("sending error: {}", crate::domain::mask(&error.to_string()));
    }
}

pub struct FollowupService {
    sessions: Arc<Sessions>,
    auth: Arc<AuthConfig>,
    parser: Arc<FollowupParser>,
    queries: QueryRuntime,
}

impl FollowupService {
    pub fn new(
        sessions: Arc<Sessions>,
        auth: Arc<AuthConfig>,
        queries: QueryRuntime,
    ) -> FollowupService {
        // Describe-time calls (parameter types, result columns) only read the parsed plan, so any
        // session's parser answers them; an empty one will do.
        let fallback = DfSessionService::new(Arc::new(SessionContext::new())).query_parser();
        let parser = Arc::new(FollowupParser {
            sessions: sessions.clone(),
            auth: auth.clone(),
            fallback,
        });
        FollowupService {
            sessions,
            auth,
            parser,
            queries,
        }
    }
}

fn access_of(auth: &AuthConfig, client: &(impl ClientInfo + ?Sized)) -> PgWireResult<Access> {
    let Some(users) = &auth.users else {
        return Ok(Access::Full);
    };
    let name = client
        .metadata()
        .get(METADATA_USER)
        .cloned()
        .unwrap_or_default();
    users.get(&name).map(|u| u.access.clone()).ok_or_else(|| {
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "FATAL".into(),
            "28000".into(),
            format!("unknown user \"{name}\""),
        )))
    })
}

fn to_pg(e: ServeError) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        e.sqlstate().into(),
        e.to_string(),
    )))
}

async fn service_for(
    sessions: &Sessions,
    auth: &AuthConfig,
    client: &(impl ClientInfo + ?Sized),
) -> PgWireResult<(String, Arc<DfSessionService>)> {
    let access = access_of(auth, client)?;
    sessions.service(&access).await.map_err(to_pg)
}

#[async_trait]
impl SimpleQueryHandler for FollowupService {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // The statement runs while its rows are sent, after this returns: its stop signal (cancel
        // request, statement_timeout) goes with the rows.
        let stop = Stop::for_statement(client);
        let (_, service) = service_for(&self.sessions, &self.auth, client).await?;
        let query = super::compat::rewrite(query);
        let responses = stop
            .run(
                &self.queries,
                <DfSessionService as SimpleQueryHandler>::do_query(&service, client, &query),
            )
            .await?;
        Ok(responses
            .into_iter()
            .map(|r| stop.watch(&self.queries, r))
            .collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for FollowupService {
    type Statement = Statement;
    type QueryParser = FollowupParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // The plan was built at Parse time against one snapshot's session and carries that snapshot's
        // tables. When `current` has moved since, the statement is planned again on the new snapshot, so
        // long-lived prepared statements (pgjdbc, connection pools) follow the nightly publication.
        // The rows are sent after this returns, and the statement runs as they are: its stop signal
        // (cancel request, statement_timeout) goes with them.
        let stop = Stop::for_statement(client);
        let (load_id, service) = service_for(&self.sessions, &self.auth, client).await?;
        let mut replanned = None;
        if let Some((planned_on, sql)) = untag(&portal.statement.statement.0) {
            if planned_on != load_id && portal.statement.statement.1.is_some() {
                let fresh = service
                    .query_parser()
                    .parse_sql(client, sql, &portal.statement.parameter_types)
                    .await?;
                if let Some((_, rest)) = fresh {
                    let statement = StoredStatement::new(
                        portal.statement.id.clone(),
                        (tag(&load_id, sql), rest),
                        portal.statement.parameter_types.clone(),
                    );
                    let mut again = Portal::new_cursor(portal.name.clone(), Arc::new(statement));
                    again.parameter_format = portal.parameter_format.clone();
                    again.parameters = portal.parameters.clone();
                    again.result_column_format = portal.result_column_format.clone();
                    again.state = portal.state.clone();
                    replanned = Some(again);
                }
            }
        }
        let portal = replanned.as_ref().unwrap_or(portal);
        let response = stop
            .run(
                &self.queries,
                <DfSessionService as ExtendedQueryHandler>::do_query(
                    &service, client, portal, max_rows,
                ),
            )
            .await?;
        Ok(stop.watch(&self.queries, response))
    }
}

const TAG_SEPARATOR: char = '\u{1f}';

fn tag(load_id: &str, sql: &str) -> String {
    format!("{load_id}{TAG_SEPARATOR}{sql}")
}

fn untag(text: &str) -> Option<(&str, &str)> {
    text.split_once(TAG_SEPARATOR)
}

pub struct FollowupParser {
    sessions: Arc<Sessions>,
    auth: Arc<AuthConfig>,
    fallback: Arc<Parser>,
}

#[async_trait]
impl QueryParser for FollowupParser {
    type Statement = Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let (load_id, service) = service_for(&self.sessions, &self.auth, client).await?;
        let sql = super::compat::rewrite(sql);
        let parsed = service
            .query_parser()
            .parse_sql(client, &sql, types)
            .await?;
        // The statement's text slot (used by datafusion-postgres for logging only) records the snapshot
        // it was planned on and the SQL to plan it again.
        Ok(parsed.map(|(_, rest)| (tag(&load_id, &sql), rest)))
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.fallback.get_parameter_types(stmt)
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.fallback.get_result_schema(stmt, column_format)
    }
}
