//! Running a statement: on a runtime of its own, and stoppable.
//!
//! Statements run on a query runtime apart from the connections' runtime. DataFusion's operators yield to
//! the scheduler only between reads of their inputs, and a statement keeps one task per core busy, so a
//! heavy one on the connections' workers could hold up every other client: new logins, other statements
//! and the cancel request meant to stop it (a cross join without a condition did so for minutes).
//!
//! Stopping: PostgreSQL's cancel request (psql's Ctrl-C, JDBC's `Statement.cancel()` and
//! `setQueryTimeout`, Npgsql's `CommandTimeout`, a BI tool leaving a dashboard) and `statement_timeout`.
//! pgwire and datafusion-postgres stop only the planning of a statement. Its execution runs while its rows
//! are streamed to the client, after the handler has returned, so a heavy query would run to its end
//! whatever the client asked. Here every statement gets a stop signal (the connection's cancel requests and
//! its deadline); when it fires, the rows end with SQLSTATE 57014 as PostgreSQL's do, and the statement's
//! task on the query runtime is aborted, which drops DataFusion's stream and stops its work. An aborted task
//! ends when it next yields: DataFusion's scans yield as they read, and the sessions' `YieldingJoins` rule
//! (`models::session_in`) makes joins yield with every batch they emit.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, Either, FutureExt, Shared};
use futures::StreamExt;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::results::Response;
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::watch;

/// The client metadata key of the session's `statement_timeout` in milliseconds: datafusion-postgres's
/// `SET`/`SHOW statement_timeout` read and write it, and a new connection starts with the server's default.
pub const STATEMENT_TIMEOUT_KEY: &str = "statement_timeout_ms";

const CANCELED: &str = "canceling statement due to user request";
const TIMED_OUT: &str = "canceling statement due to statement timeout";

/// The open connections' cancel keys (process id and secret key, as sent in BackendKeyData).
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<i32, (SecretKey, Arc<CancelSignal>)>>,
}

/// One connection's cancel requests: a counter that each request raises.
pub struct CancelSignal {
    requests: watch::Sender<u64>,
}

/// Unregisters a connection's cancel key when the connection ends (held in its session extensions).
pub struct Registration {
    connections: Arc<Connections>,
    pid: i32,
    signal: Arc<CancelSignal>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self
            .connections
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if open
            .get(&self.pid)
            .is_some_and(|(_, s)| Arc::ptr_eq(s, &self.signal))
        {
            open.remove(&self.pid);
        }
    }
}

impl Connections {
    /// Registers an authenticated connection under its process id and secret key.
    pub fn register(self: &Arc<Self>, client: &(impl ClientInfo + ?Sized)) {
        let (pid, key) = client.pid_and_secret_key();
        let signal = Arc::new(CancelSignal {
            requests: watch::Sender::new(0),
        });
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pid, (key, signal.clone()));
        client.session_extensions().insert(Registration {
            connections: self.clone(),
            pid,
            signal: signal.clone(),
        });
        client.session_extensions().insert(signal);
    }

    /// A cancel request: stops the statement running on the connection with this key, if any. A request
    /// with an unknown key is ignored, as PostgreSQL does (it cannot tell a stale key from a guess).
    pub fn cancel(&self, pid: i32, key: &SecretKey) -> bool {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match open.get(&pid) {
            Some((known, signal)) if known.eq_value(key) => {
                signal.requests.send_modify(|n| *n += 1);
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl CancelHandler for Connections {
    async fn on_cancel_request(&self, request: CancelRequest) {
        if self.cancel(request.pid, &request.secret_key) {
            tracing::info!("cancel request received");
        }
    }
}

/// What stops one statement: a cancel request on its connection after it began, or its deadline. Resolves
/// to the message of the error the client gets.
#[derive(Clone)]
pub struct Stop(Shared<BoxFuture<'static, &'static str>>);

impl Stop {
    /// The stop signal of a statement beginning now on `client`'s connection.
    pub fn for_statement(client: &(impl ClientInfo + ?Sized)) -> Stop {
        let requests = client
            .session_extensions()
            .get::<Arc<CancelSignal>>()
            .map(|s| s.requests.subscribe());
        let timeout = client
            .metadata()
            .get(STATEMENT_TIMEOUT_KEY)
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis);
        Stop::new(requests, timeout)
    }

    fn new(requests: Option<watch::Receiver<u64>>, timeout: Option<Duration>) -> Stop {
        let canceled = async move {
            // Only requests after the statement began count: `subscribe` has seen the current count.
            if let Some(mut rx) = requests {
                if rx.changed().await.is_ok() {
                    return CANCELED;
                }
            }
            futures::future::pending().await
        };
        let timed_out = async move {
            match timeout {
                Some(t) => {
                    tokio::time::sleep(t).await;
                    TIMED_OUT
                }
                None => futures::future::pending().await,
            }
        };
        let either = async move {
            match futures::future::select(Box::pin(canceled), Box::pin(timed_out)).await {
                Either::Left((why, _)) | Either::Right((why, _)) => why,
            }
        };
        Stop(either.boxed().shared())
    }

    /// Runs `work` (planning a statement and starting its execution) on `queries`, unless the statement is
    /// stopped first.
    pub async fn run<T>(
        &self,
        queries: &QueryRuntime,
        work: impl Future<Output = PgWireResult<T>>,
    ) -> PgWireResult<T> {
        let entered = Entered {
            handle: queries.handle(),
            work: Box::pin(work),
        };
        match futures::future::select(entered, self.0.clone()).await {
            Either::Left((result, _)) => result,
            Either::Right((why, _)) => Err(stopped(why)),
        }
    }

    /// The response with its rows computed on `queries` and passed on until the statement is stopped.
    pub fn watch(&self, queries: &QueryRuntime, response: Response) -> Response {
        let Response::Query(mut query) = response else {
            return response;
        };
        let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
        let task = queries.handle().spawn(async move {
            let mut chunks = rows.ready_chunks(256);
            while let Some(chunk) = chunks.next().await {
                if tx.send(Chunk::Rows(chunk)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Chunk::End).await;
        });
        // Aborted when the client's side ends for any reason (stopped, finished, connection gone).
        let task = AbortOnDrop(task.abort_handle());
        let mut stop = self.0.clone();
        let mut ready = Vec::new().into_iter();
        let mut done = false;
        query.data_rows = Box::pin(futures::stream::poll_fn(move |cx| loop {
            if let Some(row) = ready.next() {
                return Poll::Ready(Some(row));
            }
            if done {
                return Poll::Ready(None);
            }
            if let Poll::Ready(why) = stop.poll_unpin(cx) {
                done = true;
                task.0.abort();
                return Poll::Ready(Some(Err(stopped(why))));
            }
            match rx.poll_recv(cx) {
                Poll::Ready(Some(Chunk::Rows(rows))) => ready = rows.into_iter(),
                Poll::Ready(Some(Chunk::End)) => done = true,
                Poll::Ready(None) => {
                    // The task ended without its end mark: it panicked. Never a silently short result.
                    done = true;
                    return Poll::Ready(Some(Err(PgWireError::UserError(Box::new(
                        ErrorInfo::new(
                            "ERROR".into(),
                            "XX000".into(),
                            "the statement failed while computing its rows".into(),
                        ),
                    )))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }));
        Response::Query(query)
    }
}

enum Chunk {
    Rows(Vec<PgWireResult<pgwire::messages::data::DataRow>>),
    End,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A future polled inside the query runtime's context, so that the tasks DataFusion spawns while planning
/// and starting a statement (one per partition) run there.
struct Entered<F: Future> {
    handle: tokio::runtime::Handle,
    work: Pin<Box<F>>,
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let _inside = self.handle.enter();
        self.work.as_mut().poll(cx)
    }
}

/// The runtime statements run on: one worker per core, apart from the connections' runtime.
pub struct QueryRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl QueryRuntime {
    pub fn new() -> std::io::Result<QueryRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("followup-query")
            .enable_all()
            .build()?;
        Ok(QueryRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropped at exit, possibly from inside the connections' runtime, where a blocking shutdown panics.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn stopped(why: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        "57014".into(),
        why.into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse};
    use pgwire::api::Type;

    /// An endless row stream, as a query that never finishes looks to pgwire.
    fn endless() -> Response {
        let fields = Arc::new(vec![FieldInfo::new(
            "n".into(),
            None,
            None,
            Type::INT8,
            FieldFormat::Text,
        )]);
        let schema = fields.clone();
        let rows = futures::stream::iter(0i64..).map(move |n| {
            let mut enc = DataRowEncoder::new(schema.clone());
            enc.encode_field(&n)?;
            Ok(enc.take_row())
        });
        Response::Query(QueryResponse::new(fields, rows))
    }

    async fn drain(response: Response) -> (usize, Option<String>) {
        let Response::Query(mut q) = response else {
            panic!("not a query response");
        };
        let mut n = 0;
        while let Some(row) = q.data_rows.next().await {
            match row {
                Ok(_) => n += 1,
                Err(PgWireError::UserError(e)) => {
                    return (n, Some(format!("{} {}", e.code, e.message)))
                }
                Err(e) => return (n, Some(e.to_string())),
            }
            // Yield now and then, as a network send does, so the timer can fire.
            if n % 1024 == 0 {
                tokio::task::yield_now().await;
            }
        }
        (n, None)
    }

    #[tokio::test]
    async fn a_cancel_request_ends_a_running_statement_and_only_that_one() {
        let signal = watch::Sender::new(0u64);
        // A request before the statement began does not stop it.
        signal.send_modify(|n| *n += 1);
        let queries = QueryRuntime::new().unwrap();
        let stop = Stop::new(Some(signal.subscribe()), None);
        let watched = stop.watch(&queries, endless());
        let canceller = {
            let signal = signal.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                signal.send_modify(|n| *n += 1);
            })
        };
        let (rows, error) = drain(watched).await;
        canceller.await.expect("canceller ran");
        assert!(rows > 0, "rows were streamed before the cancel");
        assert_eq!(
            error.as_deref(),
            Some("57014 canceling statement due to user request")
        );
        // Planning that outlives the cancel is stopped too.
        let stop = Stop::new(Some(signal.subscribe()), None);
        signal.send_modify(|n| *n += 1);
        let planned: PgWireResult<()> = stop.run(&queries, futures::future::pending()).await;
        assert!(matches!(planned, Err(PgWireError::UserError(e)) if e.code == "57014"));
    }

    #[tokio::test]
    async fn a_statement_timeout_ends_the_stream_and_none_lets_it_finish() {
        let queries = QueryRuntime::new().unwrap();
        let stop = Stop::new(None, Some(Duration::from_millis(50)));
        let (_, error) = drain(stop.watch(&queries, endless())).await;
        assert_eq!(
            error.as_deref(),
            Some("57014 canceling statement due to statement timeout")
        );
        // Without a timeout or a request, a finite stream ends normally.
        let stop = Stop::new(None, None);
        let Response::Query(q) = endless() else {
            unreachable!()
        };
        let finite = Response::Query(QueryResponse::new(
            q.row_schema.clone(),
            q.data_rows.take(5000),
        ));
        assert_eq!(drain(stop.watch(&queries, finite)).await, (5000, None));
    }

    #[test]
    fn a_cancel_request_needs_the_connections_secret_key() {
        let connections = Arc::new(Connections::default());
        let signal = Arc::new(CancelSignal {
            requests: watch::Sender::new(0),
        });
        connections
            .open
            .lock()
            .unwrap()
            .insert(7, (SecretKey::I32(42), signal.clone()));
        let rx = signal.requests.subscribe();
        assert!(!connections.cancel(7, &SecretKey::I32(41)));
        assert!(!connections.cancel(8, &SecretKey::I32(42)));
        assert!(!rx.has_changed().unwrap());
        assert!(connections.cancel(7, &SecretKey::Bytes(42i32.to_be_bytes().to_vec().into())));
        assert!(rx.has_changed().unwrap());
    }
}
