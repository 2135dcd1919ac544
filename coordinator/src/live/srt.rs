//! The SRT ingest server (listener mode): hardware encoders, OBS and ffmpeg
//! push MPEG-TS (H.264 or HEVC video, AAC audio) over SRT with the stream
//! key in the `streamid` (`#!::r=live/<key>,m=publish`, `live/<key>` or the
//! bare key). The key is checked, and the channel's passphrase chosen, in the
//! handshake, before anything is held for the caller; the accepted stream is
//! demuxed by libavformat on a thread of its own
//! (`tessera_media::av::ts_stream`) into the same [`Ingest`] messages RTMP
//! gives a broadcast, so channels, leases, reconnects and refusals are the
//! same for both.
//!
//! SRT is `srt-tokio` (pure Rust, tokio-native, per-connection access control
//! with the stream id and a passphrase chosen per caller), rather than
//! Haivision's libsrt: no Rust binding of libsrt is maintained, and writing
//! one (its listen callback, epoll and a thread per socket) would be a second
//! runtime beside tokio. Two limits of srt-tokio 0.4.4 are worked around
//! here: it announces its live payload size (1316) where libsrt expects the
//! MTU, so callers would be held to 1272-byte messages (ffmpeg sends 1316:
//! seven TS packets), so the listener's payload size is raised to the live
//! maximum; and its handshake code aborts its listener task on a key-size or
//! encryption mismatch (`unimplemented!`), so a caller is accepted with its
//! own key size, and one that announces encryption to a channel without a
//! passphrase is refused before that code runs. A caller that encrypts with
//! libsrt's default key length to a channel without a passphrase cannot be
//! told apart in the request and still ends the listener task; that needs
//! a valid stream key, and the listener is bound again (its open connections
//! drop and reconnect within the grace period).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use srt_tokio::access::{AcceptParameters, RejectReason, ServerRejectReason};
use srt_tokio::options::{KeySize, PacketSize};
use srt_tokio::{ConnectionRequest, SrtIncoming, SrtListener};
use tessera_media::av::ts_stream::demux_live_ts;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::publish::{Ingest, PublishGate};
use crate::error::CoordinatorError;

/// The receive latency SRT buffers for retransmissions (its usual default).
const LATENCY: Duration = Duration::from_millis(120);
/// SRT's largest live payload: announced so callers may send 1316-byte messages.
const MAX_PAYLOAD: u64 = 1456;
/// Received chunks waiting for the demuxer (about 5 MB of 1316-byte messages).
const CHUNKS_QUEUED: usize = 4096;
/// The passphrase lengths SRT takes (SRTO_PASSPHRASE).
pub const PASSPHRASE_LENGTH: std::ops::RangeInclusive<usize> = 10..=79;
/// How long a connection may stay silent before it is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound SRT listener.
pub struct SrtServer {
    address: SocketAddr,
    listener: SrtListener,
    incoming: SrtIncoming,
}

impl SrtServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }
}

async fn listen(address: SocketAddr) -> std::io::Result<(SocketAddr, SrtListener, SrtIncoming)> {
    let socket = tokio::net::UdpSocket::bind(address).await?;
    let bound = socket.local_addr()?;
    let (listener, incoming) = SrtListener::builder()
        .latency(LATENCY)
        .set(|options| options.sender.max_payload_size = PacketSize(MAX_PAYLOAD))
        .socket(socket)
        .bind(bound)
        .await?;
    Ok((bound, listener, incoming))
}

/// Binds the SRT port (UDP).
pub async fn bind(address: SocketAddr) -> Result<SrtServer, CoordinatorError> {
    let (address, listener, incoming) = listen(address)
        .await
        .map_err(|e| CoordinatorError::Internal(format!("cannot listen for SRT on {address}: {e}")))?;
    Ok(SrtServer { address, listener, incoming })
}

/// The stream key in an SRT stream id: the resource of the access-control
/// syntax (`#!::r=live/KEY,m=publish`), or the whole id (`live/KEY`, `KEY`),
/// without the `live/` application. Requests to play are refused.
pub fn stream_key(stream_id: &str) -> Result<&str, String> {
    // Some callers (ffmpeg 5.1) send the stream id as written in their URL, "#" encoded.
    let pairs = stream_id.strip_prefix("#!::").or_else(|| stream_id.strip_prefix("%23!::"));
    let resource = match pairs {
        Some(pairs) => {
            let mut resource = None;
            for pair in pairs.split(',') {
                match pair.split_once('=') {
                    Some(("r", value)) => resource = Some(value),
                    Some(("m", mode)) if mode != "publish" => {
                        return Err(format!("mode {mode:?}: this server only takes publishes"))
                    }
                    _ => {}
                }
            }
            resource.ok_or("the stream id names no resource (r=live/<stream key>)")?
        }
        None => stream_id.strip_prefix("publish:").unwrap_or(stream_id),
    };
    let key = resource.strip_prefix("live/").unwrap_or(resource);
    if key.is_empty() {
        return Err("the stream id holds no stream key".into());
    }
    Ok(key)
}

/// Serves SRT until `shutdown`.
pub async fn serve(server: SrtServer, gate: Arc<dyn PublishGate>, shutdown: CancellationToken) {
    let SrtServer { address, listener, mut incoming } = server;
    let mut _listener = listener;
    loop {
        let request = tokio::select! {
            _ = shutdown.cancelled() => return,
            request = incoming.incoming().next() => request,
        };
        match request {
            Some(request) => {
                let (gate, shutdown) = (gate.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let peer = request.remote();
                    if let Err(reason) = connection(request, gate.as_ref(), shutdown).await {
                        tracing::warn!(%peer, %reason, "SRT connection closed");
                    }
                });
            }
            None => {
                // The listener task ended (see the module comment): listen again.
                tracing::error!(%address, "the SRT listener stopped; listening again");
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    match listen(address).await {
                        Ok((_, l, i)) => {
                            (_listener, incoming) = (l, i);
                            break;
                        }
                        Err(e) => tracing::warn!(%address, error = %e, "cannot listen for SRT yet"),
                    }
                }
            }
        }
    }
}

async fn reject(request: ConnectionRequest, reason: ServerRejectReason, why: String) -> Result<(), String> {
    let _ = request.reject(RejectReason::Server(reason)).await;
    Err(why)
}

/// One caller: admitted by stream key and passphrase, then demuxed into a broadcast.
async fn connection(
    request: ConnectionRequest,
    gate: &dyn PublishGate,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let stream_id = request.stream_id().map(|id| id.to_string()).unwrap_or_default();
    let key = match stream_key(&stream_id) {
        Ok(key) => key.to_string(),
        Err(why) => return reject(request, ServerRejectReason::BadRequest, why).await,
    };
    let passphrase = match gate.srt_passphrase(&key).await {
        Ok(passphrase) => passphrase,
        Err(why) => return reject(request, ServerRejectReason::Forbidden, format!("publish refused: {why}")).await,
    };
    // A caller that sets a key length says so in the handshake; one that
    // leaves libsrt's default (AES-128) does not, so an unspecified size
    // does not mean unencrypted: SRT itself then refuses a caller without
    // encryption (or with a wrong passphrase) for a channel that has one.
    let key_settings = match (passphrase, request.key_size()) {
        (None, KeySize::Unspecified) => None,
        (None, _) => {
            let why = "publish refused: the caller encrypts but the channel has no passphrase".to_string();
            return reject(request, ServerRejectReason::Unauthorized, why).await;
        }
        (Some(passphrase), key_size) => {
            if !PASSPHRASE_LENGTH.contains(&passphrase.len()) {
                let why = "the channel's passphrase is not 10-79 bytes".to_string();
                return reject(request, ServerRejectReason::InternalServerError, why).await;
            }
            // The caller's key size: srt-tokio cannot take a different one.
            let mut accept = AcceptParameters::new();
            accept.set_key_settings(passphrase, u16::from(key_size.as_raw()));
            accept.take_key_settings()
        }
    };
    // A wrong or missing passphrase fails here: the caller's key material does not unwrap.
    let mut socket = request
        .accept(key_settings)
        .await
        .map_err(|e| format!("publish refused: SRT handshake failed (a wrong or missing passphrase): {e}"))?;
    let sender = gate.open("srt", &key).await.map_err(|why| format!("publish refused: {why}"))?;
    tracing::info!("SRT publish accepted");

    // The demuxer reads on a thread of its own, fed through a bounded queue.
    let (chunks, mut queued) = mpsc::channel::<Bytes>(CHUNKS_QUEUED);
    let media = sender.clone();
    let (demuxed_tx, demuxed) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("srt-demux".into())
        .spawn(move || {
            let next = Box::new(move || queued.blocking_recv());
            let mut emit = |input| media.blocking_send(Ingest::Media(input)).is_ok();
            if let Err(e) = demux_live_ts(next, &mut emit) {
                let _ = media.blocking_send(Ingest::Invalid(format!("SRT stream: {e}")));
            }
            let _ = demuxed_tx.send(());
        })
        .map_err(|e| format!("cannot start the demuxer: {e}"))?;
    let outcome = loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            received = tokio::time::timeout(READ_TIMEOUT, socket.next()) => received,
        };
        match received {
            Ok(Some(Ok((_, data)))) => {
                if chunks.send(data).await.is_err() {
                    break Ok(()); // the demuxer stopped: the broadcast ended or the stream is unreadable
                }
            }
            Ok(Some(Err(e))) => break Err(format!("SRT receive failed: {e}")),
            Ok(None) => break Ok(()),
            Err(_) => break Err(format!("nothing received for {} s", READ_TIMEOUT.as_secs())),
        }
    };
    drop(chunks);
    let _ = demuxed.await;
    // SRT has no unpublish: a closed connection may be a lost link, so the
    // channel waits its grace period for a reconnect (or a DELETE).
    let _ = sender.send(Ingest::End { clean: false }).await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::stream_key;

    #[test]
    fn stream_ids() {
        assert_eq!(stream_key("#!::r=live/abc,m=publish"), Ok("abc"));
        assert_eq!(stream_key("#!::m=publish,r=abc"), Ok("abc"));
        assert_eq!(stream_key("%23!::r=live/abc,m=publish"), Ok("abc"));
        assert_eq!(stream_key("live/abc"), Ok("abc"));
        assert_eq!(stream_key("abc"), Ok("abc"));
        assert_eq!(stream_key("publish:live/abc"), Ok("abc"));
        assert!(stream_key("#!::r=live/abc,m=request").unwrap_err().contains("only takes publishes"));
        assert!(stream_key("#!::u=someone").is_err());
        assert!(stream_key("live/").is_err());
        assert!(stream_key("").is_err());
    }
}
