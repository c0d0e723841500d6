//! `followup serve`: the published warehouse over the PostgreSQL wire protocol, read-only, for psql, BI
//! tools, ODBC and JDBC. Catalogue emulation and Arrow→Postgres encoding come from datafusion-postgres;
//! this module adds what it lacks: authentication (SCRAM-SHA-256 against a users file), TLS off loopback,
//! a read-only guard, per-user row scoping, per-statement snapshot resolution, and statements that run on
//! a runtime of their own and stop on a cancel request or `statement_timeout` while they compute.

pub mod auth;
pub mod compat;
pub mod functions;
pub mod guard;
pub mod handler;
pub mod session;
pub mod statement;
pub mod users;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::QueryHook;
use pgwire::tokio::tokio_rustls::rustls;
use pgwire::tokio::TlsAcceptor;
use tokio::net::TcpListener;

use auth::AuthConfig;
use handler::{FollowupService, Handlers};
use session::Sessions;
use users::Users;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no published warehouse at {0}: run `followup run` first")]
    NoWarehouse(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("users file {path}: {message}")]
    UsersFile { path: PathBuf, message: String },
    #[error("refusing to listen on {0}, which is not a loopback address, without TLS (--tls-cert and --tls-key) and a users file (--users)")]
    NotLoopback(SocketAddr),
    #[error("--tls-cert and --tls-key go together")]
    HalfTls,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("opening the snapshot: {0}")]
    Snapshot(String),
    #[error("the system has no randomness source")]
    Random,
    #[error("starting the query runtime: {0}")]
    Runtime(std::io::Error),
}

impl ServeError {
    /// SQLSTATE for errors that reach a client.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            ServeError::NoWarehouse(_) => "3D000",
            _ => "XX000",
        }
    }
}

pub struct ServeOptions {
    pub warehouse: PathBuf,
    pub listen: SocketAddr,
    pub users: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The `statement_timeout` every connection starts with; `None`: none.
    pub statement_timeout: Option<std::time::Duration>,
}

/// A bound server, ready to accept connections.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handlers: Arc<Handlers>,
}

/// The hooks every session runs, guard first.
pub fn query_hooks() -> Vec<Arc<dyn QueryHook>> {
    vec![
        Arc::new(guard::ReadOnlyHook),
        Arc::new(guard::DiscardHook),
        Arc::new(CursorStatementHook),
        Arc::new(SetShowHook),
        Arc::new(TransactionStatementHook),
    ]
}

impl Server {
    /// Check the options, load users and TLS, and bind the listener.
    pub async fn bind(opts: &ServeOptions) -> Result<Server, ServeError> {
        let tls = match (&opts.tls_cert, &opts.tls_key) {
            (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
            (None, None) => None,
            _ => return Err(ServeError::HalfTls),
        };
        let users = opts.users.as_deref().map(Users::load).transpose()?;
        let loopback = opts.listen.ip().is_loopback();
        if !loopback && (tls.is_none() || users.is_none()) {
            return Err(ServeError::NotLoopback(opts.listen));
        }
        let mut secret = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .map_err(|_| ServeError::Random)?;
        let auth = Arc::new(AuthConfig {
            users,
            require_tls: !loopback,
            secret,
            statement_timeout: opts.statement_timeout,
        });
        let sessions = Arc::new(Sessions::new(&opts.warehouse, query_hooks()));
        // Fail early on a missing warehouse, but keep serving if it appears later.
        if let Err(e) = sessions.current() {
            tracing::warn!("{e}");
        }
        let queries = statement::QueryRuntime::new().map_err(ServeError::Runtime)?;
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.listen,
                source,
            })?;
        let handlers = Arc::new(Handlers {
            service: Arc::new(FollowupService::new(sessions, auth.clone(), queries)),
            auth,
            connections: Arc::new(statement::Connections::default()),
        });
        Ok(Server {
            listener,
            tls,
            handlers,
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Accept connections until the process ends. A failing connection never stops the server.
    pub async fn run(self) {
        loop {
            match self.listener.accept().await {
                Ok((socket, addr)) => {
                    let tls = self.tls.clone();
                    let handlers = self.handlers.clone();
                    tokio::spawn(async move {
                        if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                            tracing::info!(peer = %addr, "connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, ServeError> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .map(std::io::BufReader::new)
            .map_err(|source| ServeError::Io {
                path: p.to_path_buf(),
                source,
            })
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no certificate in PEM form",
            cert.display()
        )));
    }
    let key_der = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| ServeError::Tls(format!("{}: no private key in PEM form", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
