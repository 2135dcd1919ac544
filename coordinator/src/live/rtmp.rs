//! The RTMP and RTMPS ingest server: accepts publishers (OBS, ffmpeg), checks their
//! stream key with a [`PublishGate`], and forwards the FLV video and audio
//! message bodies of an accepted publish to the broadcast the gate returned.
//! rml_rtmp does the handshake and the chunk/message protocol (sans-IO);
//! this module owns the sockets and bounds what a peer can do before it is
//! known: every byte passes a [`ChunkGuard`] before rml_rtmp reads it, at most
//! [`MAX_UNPUBLISHED`] connections may be waiting to publish, and each has
//! [`PUBLISH_DEADLINE`] to do so. A connection that sends garbage, or an
//! unknown key, is closed and logged; nothing else is affected.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
use rml_rtmp::sessions::{ServerSession, ServerSessionConfig, ServerSessionEvent, ServerSessionResult};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::chunk_guard::ChunkGuard;
use super::publish::{Ingest, PublishGate};
use crate::error::CoordinatorError;

/// How long a connection may stay silent before it is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection has from its first byte to an accepted publish.
pub const PUBLISH_DEADLINE: Duration = Duration::from_secs(15);
/// The most connections that may be between accept and an accepted publish;
/// more are closed at once (publishers retry), so half-open connections cannot
/// pile up memory.
pub const MAX_UNPUBLISHED: usize = 128;

/// TLS for RTMPS from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(certificates: &Path, key: &Path) -> Result<TlsAcceptor, CoordinatorError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        CoordinatorError::Internal(format!("RTMPS {what} {}: {e}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(certificates)
        .map_err(|e| bad("certificates", certificates, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificates", certificates, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| CoordinatorError::Internal(format!("RTMPS certificate and key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves RTMP on `listener` until `shutdown`; RTMPS when given `tls`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gate: Arc<dyn PublishGate>,
    shutdown: CancellationToken,
) {
    let unpublished = Arc::new(Semaphore::new(MAX_UNPUBLISHED));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                let Ok(permit) = unpublished.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "RTMP connection refused: {MAX_UNPUBLISHED} connections are waiting to publish");
                    continue;
                };
                let (gate, shutdown, tls) = (gate.clone(), shutdown.clone(), tls.clone());
                tokio::spawn(async move {
                    let _ = socket.set_nodelay(true);
                    let deadline = tokio::time::Instant::now() + PUBLISH_DEADLINE;
                    let served = match tls {
                        None => connection(socket, peer, deadline, gate.as_ref(), permit, shutdown).await,
                        Some(tls) => match tokio::time::timeout_at(deadline, tls.accept(socket)).await {
                            Ok(Ok(stream)) => connection(stream, peer, deadline, gate.as_ref(), permit, shutdown).await,
                            Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
                            Err(_) => Err(format!("no TLS handshake within {} s", PUBLISH_DEADLINE.as_secs())),
                        },
                    };
                    if let Err(reason) = served {
                        tracing::warn!(%peer, %reason, "RTMP connection closed");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "RTMP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Binds the RTMP port.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, CoordinatorError> {
    TcpListener::bind(address)
        .await
        .map_err(|e| CoordinatorError::Internal(format!("cannot listen for RTMP on {address}: {e}")))
}

async fn read<S: AsyncRead + Unpin>(socket: &mut S, buffer: &mut [u8]) -> Result<usize, String> {
    match tokio::time::timeout(READ_TIMEOUT, socket.read(buffer)).await {
        Ok(Ok(0)) => Err("the peer closed the connection".into()),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(format!("read failed: {e}")),
        Err(_) => Err(format!("nothing received for {} s", READ_TIMEOUT.as_secs())),
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
    gate: &dyn PublishGate,
    permit: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let mut unpublished = Some(permit);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut handshake = Handshake::new(PeerType::Server);
    let mut guard = ChunkGuard::new();
    let leftover = loop {
        let n = tokio::time::timeout_at(deadline, read(&mut socket, &mut buffer))
            .await
            .map_err(|_| format!("no publish within {} s", PUBLISH_DEADLINE.as_secs()))??;
        match handshake.process_bytes(&buffer[..n]).map_err(|e| format!("RTMP handshake failed: {e:?}"))? {
            HandshakeProcessResult::InProgress { response_bytes } => {
                socket.write_all(&response_bytes).await.map_err(|e| e.to_string())?;
            }
            HandshakeProcessResult::Completed { response_bytes, remaining_bytes } => {
                socket.write_all(&response_bytes).await.map_err(|e| e.to_string())?;
                break remaining_bytes;
            }
        }
    };
    let (mut session, initial) =
        ServerSession::new(ServerSessionConfig::new()).map_err(|e| format!("RTMP session: {e:?}"))?;
    let mut publishing: Option<mpsc::Sender<Ingest>> = None;
    let mut pending = initial;
    let mut input = leftover;
    let mut close = false;
    let result = loop {
        if !input.is_empty() {
            if let Err(refusal) = guard.inspect(&input) {
                break Err(refusal.to_string());
            }
            match session.handle_input(&input) {
                Ok(results) => pending.extend(results),
                Err(e) => break Err(format!("invalid RTMP data: {e:?}")),
            }
            input.clear();
        }
        let mut outcome = Ok(());
        for result in std::mem::take(&mut pending) {
            match result {
                ServerSessionResult::OutboundResponse(packet) => {
                    if let Err(e) = socket.write_all(&packet.bytes).await {
                        outcome = Err(format!("write failed: {e}"));
                        break;
                    }
                }
                ServerSessionResult::RaisedEvent(event) => {
                    match on_event(event, &mut session, gate, &mut publishing, peer).await {
                        Ok(reaction) => {
                            if publishing.is_some() && unpublished.take().is_some() {
                                guard.publishing();
                            }
                            pending.extend(reaction.send);
                            close |= reaction.close;
                        }
                        Err(reason) => {
                            outcome = Err(reason);
                            break;
                        }
                    }
                }
                ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
        // Responses raised while handling events go out before reading again.
        if outcome.is_ok() && !pending.is_empty() {
            continue;
        }
        if let Err(reason) = outcome {
            break Err(reason);
        }
        if close {
            break Ok(());
        }
        let waiting = unpublished.is_some();
        let n = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = tokio::time::sleep_until(deadline), if waiting => {
                break Err(format!("no publish within {} s", PUBLISH_DEADLINE.as_secs()))
            }
            n = read(&mut socket, &mut buffer) => n,
        };
        match n {
            Ok(n) => input.extend_from_slice(&buffer[..n]),
            Err(reason) if publishing.is_some() => break Err(reason),
            Err(_) => break Ok(()),
        }
    };
    if let Some(sender) = publishing.take() {
        let _ = sender.send(Ingest::End { clean: false }).await;
    }
    result
}

/// What to do after an event: send these, then maybe close.
struct Reaction {
    send: Vec<ServerSessionResult>,
    close: bool,
}

impl Reaction {
    fn none() -> Self {
        Self { send: Vec::new(), close: false }
    }
}

/// Reacts to one session event.
async fn on_event(
    event: ServerSessionEvent,
    session: &mut ServerSession,
    gate: &dyn PublishGate,
    publishing: &mut Option<mpsc::Sender<Ingest>>,
    peer: SocketAddr,
) -> Result<Reaction, String> {
    let accept = |session: &mut ServerSession, request_id| {
        let send = session.accept_request(request_id).map_err(|e| format!("RTMP session: {e:?}"))?;
        Ok(Reaction { send, close: false })
    };
    match event {
        ServerSessionEvent::ConnectionRequested { request_id, .. } => accept(session, request_id),
        ServerSessionEvent::PublishStreamRequested { request_id, app_name, stream_key, .. } => {
            if publishing.is_some() {
                return Err("a second publish on one connection".into());
            }
            match gate.open("rtmp", &stream_key).await {
                Ok(sender) => {
                    tracing::info!(%peer, app = %app_name, "publish accepted");
                    *publishing = Some(sender);
                    accept(session, request_id)
                }
                Err(reason) => {
                    tracing::warn!(%peer, app = %app_name, %reason, "publish refused");
                    let refused = session
                        .reject_request(request_id, "NetStream.Publish.BadName", &reason)
                        .map_err(|e| format!("RTMP session: {e:?}"))?;
                    // Send the refusal, then close: no resources are held for it.
                    Ok(Reaction { send: refused, close: true })
                }
            }
        }
        ServerSessionEvent::VideoDataReceived { data, timestamp, .. } => {
            forward(publishing, Ingest::Video { ms: timestamp.value, body: data }).await?;
            Ok(Reaction::none())
        }
        ServerSessionEvent::AudioDataReceived { data, timestamp, .. } => {
            forward(publishing, Ingest::Audio { ms: timestamp.value, body: data }).await?;
            Ok(Reaction::none())
        }
        ServerSessionEvent::PublishStreamFinished { .. } => {
            if let Some(sender) = publishing.take() {
                let _ = sender.send(Ingest::End { clean: true }).await;
            }
            Ok(Reaction::none())
        }
        _ => Ok(Reaction::none()),
    }
}

async fn forward(publishing: &mut Option<mpsc::Sender<Ingest>>, message: Ingest) -> Result<(), String> {
    match publishing {
        Some(sender) => sender.send(message).await.map_err(|_| "the broadcast ended".to_string()),
        None => Err("media before an accepted publish".into()),
    }
}
