//! What every ingest protocol hands a broadcast, and who may publish: the
//! [`Ingest`] messages (RTMP's FLV tag bodies as sent, or media another
//! protocol already demuxed) and the [`PublishGate`] that admits a publisher
//! by its stream key.

use async_trait::async_trait;
use bytes::Bytes;
use tessera_media::live_segmenter::LiveInput;
use tokio::sync::mpsc;

/// What a publisher sends, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingest {
    /// An FLV video tag body and its timestamp (ms), from RTMP.
    Video {
        /// RTMP timestamp in milliseconds.
        ms: u32,
        /// The tag body.
        body: Bytes,
    },
    /// An FLV audio tag body and its timestamp (ms), from RTMP.
    Audio {
        /// RTMP timestamp in milliseconds.
        ms: u32,
        /// The tag body.
        body: Bytes,
    },
    /// Media a protocol demuxed itself (SRT's MPEG-TS).
    Media(LiveInput),
    /// The publisher's stream cannot be read (named): the broadcast ends with it.
    Invalid(String),
    /// The publisher stopped: `clean` when it said so (unpublish), not when
    /// the connection dropped (it may come back).
    End {
        /// True for an unpublish, false for a lost connection.
        clean: bool,
    },
}

/// Decides who may publish, and where their media goes.
#[async_trait]
pub trait PublishGate: Send + Sync {
    /// A publish over `protocol` (`rtmp`, `srt`) with `stream_key`: a
    /// channel for its media, or why it is refused.
    async fn open(&self, protocol: &'static str, stream_key: &str) -> Result<mpsc::Sender<Ingest>, String>;

    /// Whether `stream_key` may publish at all, and the passphrase its SRT
    /// connection must be encrypted with (checked before the SRT handshake
    /// completes; `open` then takes the channel).
    async fn srt_passphrase(&self, stream_key: &str) -> Result<Option<String>, String>;
}
