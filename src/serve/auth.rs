//! Connection start-up: trust (loopback without a users file) or SCRAM-SHA-256 against the users file's
//! verifiers. pgwire's own SCRAM needs the salted password (password-equivalent), so the server side of
//! RFC 5802/7677 is done here against StoredKey/ServerKey, as PostgreSQL does. One handler per connection.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata,
    DefaultServerParameterProvider, StartupHandler,
};
use pgwire::api::{ClientInfo, PgWireConnectionState, METADATA_USER};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::sync::Mutex;

use super::statement::{Connections, STATEMENT_TIMEOUT_KEY};
use super::users::{hmac_sha256, sha256, ScramVerifier, Users};

/// How connections authenticate, and the settings they start with.
#[derive(Debug)]
pub struct AuthConfig {
    /// `None`: trust (only allowed on loopback).
    pub users: Option<Users>,
    /// Refuse connections that did not negotiate TLS.
    pub require_tls: bool,
    /// Random per server start: fake salts for unknown users, so probing reveals no names.
    pub secret: [u8; 32],
    /// The `statement_timeout` a connection starts with (`SET statement_timeout` changes it); `None`: none.
    pub statement_timeout: Option<std::time::Duration>,
}

enum ScramState {
    Initial,
    ServerFirstSent {
        verifier: ScramVerifier,
        known_user: bool,
        client_first_bare: String,
        server_first: String,
        nonce: String,
        gs2_header: String,
    },
    Done,
}

pub struct StartupAuth {
    config: Arc<AuthConfig>,
    state: Mutex<ScramState>,
    connections: Arc<Connections>,
}

impl StartupAuth {
    pub fn new(config: Arc<AuthConfig>, connections: Arc<Connections>) -> Self {
        StartupAuth {
            config,
            state: Mutex::new(ScramState::Initial),
            connections,
        }
    }

    /// An authenticated connection: its cancel key, registered so that a cancel request finds its running
    /// statement, and the server's default `statement_timeout`.
    fn admit(&self, client: &mut (impl ClientInfo + ?Sized)) -> PgWireResult<()> {
        let (pid, key) = random_pid_key()?;
        client.set_pid_and_secret_key(pid, key);
        self.connections.register(client);
        if let Some(t) = self.config.statement_timeout {
            client
                .metadata_mut()
                .insert(STATEMENT_TIMEOUT_KEY.to_string(), t.as_millis().to_string());
        }
        Ok(())
    }
}

fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_string(),
        code.to_string(),
        message.into(),
    )))
}

fn auth_failed(user: &str) -> PgWireError {
    fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

fn server_parameters() -> DefaultServerParameterProvider {
    let mut p = DefaultServerParameterProvider::default();
    p.server_version = "16.6".to_string();
    p.is_superuser = false;
    p.default_transaction_read_only = true;
    p
}

fn random_nonce() -> PgWireResult<String> {
    let mut bytes = [0u8; 18];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| fatal("XX000", "no randomness for the SCRAM nonce"))?;
    Ok(B64.encode(bytes))
}

/// `a=...` attributes of a SCRAM message.
fn attr(msg: &str, key: char) -> Option<&str> {
    msg.split(',').find_map(|part| {
        let mut chars = part.chars();
        (chars.next() == Some(key) && chars.next() == Some('=')).then(|| &part[2..])
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl StartupHandler for StartupAuth {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                if self.config.require_tls && !client.is_secure() {
                    return Err(fatal(
                        "28000",
                        "this server accepts only TLS connections (use sslmode=require)",
                    ));
                }
                let user = client.metadata().get(METADATA_USER).cloned();
                let Some(_user) = user.filter(|u| !u.is_empty()) else {
                    return Err(fatal("28000", "no user name in the startup packet"));
                };
                if self.config.users.is_none() {
                    self.admit(client)?;
                    return finish_authentication(client, &server_parameters()).await;
                }
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec!["SCRAM-SHA-256".to_string()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let Some(users) = &self.config.users else {
                    return Err(fatal("08P01", "unexpected password message"));
                };
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let mut state = self.state.lock().await;
                match std::mem::replace(&mut *state, ScramState::Done) {
                    ScramState::Initial => {
                        let first = msg.into_sasl_initial_response()?;
                        if first.auth_method != "SCRAM-SHA-256" {
                            return Err(fatal(
                                "28000",
                                format!("unsupported SASL mechanism {}", first.auth_method),
                            ));
                        }
                        let data = first.data.ok_or_else(|| auth_failed(&user))?;
                        let text = std::str::from_utf8(&data).map_err(|_| auth_failed(&user))?;
                        // gs2-header: "n,," or "y,,"; channel binding is not offered.
                        let mut parts = text.splitn(3, ',');
                        let cb = parts.next().unwrap_or_default();
                        let authzid = parts.next().unwrap_or_default();
                        let bare = parts.next().ok_or_else(|| auth_failed(&user))?;
                        if !(cb == "n" || cb == "y") || !authzid.is_empty() {
                            return Err(auth_failed(&user));
                        }
                        let client_nonce = attr(bare, 'r').ok_or_else(|| auth_failed(&user))?;
                        let (verifier, known_user) = match users.get(&user) {
                            Some(u) => (u.verifier.clone(), true),
                            None => {
                                let salt = hmac_sha256(&self.config.secret, user.as_bytes());
                                let v = ScramVerifier {
                                    iterations: super::users::SCRAM_ITERATIONS,
                                    salt: salt[..16].to_vec(),
                                    stored_key: hmac_sha256(&self.config.secret, b"stored"),
                                    server_key: hmac_sha256(&self.config.secret, b"server"),
                                };
                                (v, false)
                            }
                        };
                        let nonce = format!("{client_nonce}{}", random_nonce()?);
                        let server_first = format!(
                            "r={nonce},s={},i={}",
                            B64.encode(&verifier.salt),
                            verifier.iterations
                        );
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.clone().into()),
                            ))
                            .await?;
                        *state = ScramState::ServerFirstSent {
                            verifier,
                            known_user,
                            client_first_bare: bare.to_string(),
                            server_first,
                            nonce,
                            gs2_header: format!("{cb},{authzid},"),
                        };
                    }
                    ScramState::ServerFirstSent {
                        verifier,
                        known_user,
                        client_first_bare,
                        server_first,
                        nonce,
                        gs2_header,
                    } => {
                        let resp = msg.into_sasl_response()?;
                        let text =
                            std::str::from_utf8(&resp.data).map_err(|_| auth_failed(&user))?;
                        let (without_proof, proof) =
                            text.rsplit_once(",p=").ok_or_else(|| auth_failed(&user))?;
                        let proof = B64.decode(proof).map_err(|_| auth_failed(&user))?;
                        if attr(without_proof, 'c') != Some(&B64.encode(gs2_header.as_bytes()))
                            || attr(without_proof, 'r') != Some(nonce.as_str())
                            || proof.len() != 32
                        {
                            return Err(auth_failed(&user));
                        }
                        let auth_message =
                            format!("{client_first_bare},{server_first},{without_proof}");
                        let sig = hmac_sha256(&verifier.stored_key, auth_message.as_bytes());
                        let client_key: Vec<u8> =
                            proof.iter().zip(sig.iter()).map(|(a, b)| a ^ b).collect();
                        if !known_user
                            || !constant_time_eq(&sha256(&client_key), &verifier.stored_key)
                        {
                            tracing::warn!(user = %user, "password authentication failed");
                            return Err(auth_failed(&user));
                        }
                        let server_sig = hmac_sha256(&verifier.server_key, auth_message.as_bytes());
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(
                                    format!("v={}", B64.encode(server_sig)).into(),
                                ),
                            ))
                            .await?;
                        self.admit(client)?;
                        finish_authentication(client, &server_parameters()).await?;
                    }
                    ScramState::Done => return Err(fatal("08P01", "unexpected password message")),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn random_pid_key() -> PgWireResult<(i32, pgwire::messages::startup::SecretKey)> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| fatal("XX000", "no randomness"))?;
    let pid = i32::from_be_bytes([bytes[0] & 0x7f, bytes[1], bytes[2], bytes[3]]);
    let key = i32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    Ok((pid, pgwire::messages::startup::SecretKey::I32(key)))
}
