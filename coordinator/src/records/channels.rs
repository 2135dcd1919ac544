//! Live channels: what `POST /v1/live` creates, kept in the
//! [`LIVE_BUCKET`](tessera_core::wire::LIVE_BUCKET) key-value bucket by channel id,
//! with the SHA-256 of each stream key in
//! [`STREAM_KEYS_BUCKET`](tessera_core::wire::STREAM_KEYS_BUCKET) pointing at its
//! channel (the key itself is shown once, at creation, and never stored).

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use tessera_core::clock::now_ms;
use tessera_core::kv::records::{encode_json, get_json, update_json, RecordError};
use tessera_core::kv::KeyValue;
use tessera_core::ladder::Ladder;
use tessera_core::settings::SegmentDuration;
use tessera_core::wire::{RenditionSpec, WorkerClass};
use tessera_media::SpeedPreset;

/// Where a channel is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelState {
    /// Created; nobody has published yet.
    Idle,
    /// A publisher is sending.
    Live,
    /// The broadcast ended (publisher gone, DELETE, or timeout); it plays as VOD.
    Ended,
}

impl ChannelState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Idle => "idle",
            ChannelState::Live => "live",
            ChannelState::Ended => "ended",
        }
    }
}

/// A live channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelRecord {
    /// Channel id (also the broadcast's job id).
    pub id: String,
    /// The ladder (already limited to the requested codecs).
    pub ladder: Ladder,
    /// Target segment duration.
    #[serde(rename = "segment_duration_secs")]
    pub segment_duration: SegmentDuration,
    /// Segments in the live playlists' window.
    pub window: u32,
    /// Encoder speed for rungs that name none.
    pub speed: SpeedPreset,
    /// Worker class that gets the tasks.
    pub class: WorkerClass,
    /// Output prefix in the store.
    pub output_prefix: String,
    /// State.
    pub state: ChannelState,
    /// Creation time (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// When the broadcast started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at_ms: Option<u64>,
    /// Segments cut so far.
    #[serde(default)]
    pub segments: u32,
    /// Why the broadcast stopped, when it was not the publisher's choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The broadcast's renditions, fixed at its first segment.
    #[serde(default)]
    pub renditions: Vec<RenditionSpec>,
    /// The source's frame rate, from its first segment.
    #[serde(default)]
    pub frame_rate: f64,
    /// Where the broadcast's timeline has reached (end of the last segment, s).
    #[serde(default)]
    pub timeline_end_secs: f64,
    /// True while a coordinator runs the publish (renewed every second, see `last_activity_ms`).
    #[serde(default)]
    pub broadcasting: bool,
    /// The running publish's lease token: only its holder renews, updates or releases it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// Wall-clock time of the broadcast's time 0 (ms since the Unix epoch), from its first segment.
    #[serde(default)]
    pub origin_ms: u64,
    /// Video size of the broadcast, from its first segment (a reconnect must keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_size: Option<(u32, u32)>,
    /// A segment being published: if its publish died half-way, the next one finishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingSegment>,
    /// Last sign of life of the broadcast (ms since the Unix epoch).
    #[serde(default)]
    pub last_activity_ms: u64,
    /// True once the end was announced (`live_ended`) to the packager.
    #[serde(default)]
    pub finalized: bool,
    /// The passphrase SRT publishes must encrypt with (set at creation, never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srt_passphrase: Option<String>,
    /// What the latest publish sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<ChannelInput>,
    /// Low-Latency HLS: the part target in seconds (none: segments only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_secs: Option<f64>,
}

/// What a publisher sends, as the channel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInput {
    /// `rtmp` or `srt`.
    pub protocol: String,
    /// The video: codec and size ("HEVC 1280x720").
    pub video: String,
    /// The audio, when there is any the broadcast keeps ("AAC 48000 Hz, 2 channels").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
}

/// A segment whose source and tasks are being published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingSegment {
    /// Segment number.
    pub seq: u32,
    /// Presentation start (s).
    pub start_secs: f64,
    /// Duration (s).
    pub duration_secs: f64,
    /// First segment after a reconnect.
    pub discontinuity: bool,
}

/// A running broadcast renews its lease this often; a lease older than
/// three periods is stale (its coordinator died).
pub const BROADCAST_HEARTBEAT_MS: u64 = 1000;

impl ChannelRecord {
    /// True when a coordinator is running this channel's publish right now.
    pub fn has_publisher(&self, now_ms: u64) -> bool {
        self.broadcasting && now_ms.saturating_sub(self.last_activity_ms) < 3 * BROADCAST_HEARTBEAT_MS
    }
}

/// The stream-key bucket's key for a stream key.
pub fn stream_key_digest(stream_key: &str) -> String {
    hex::encode(Sha256::digest(stream_key.as_bytes()))
}

/// Channel records and their stream keys.
#[derive(Clone)]
pub struct ChannelBook {
    channels: Arc<dyn KeyValue>,
    keys: Arc<dyn KeyValue>,
}

impl ChannelBook {
    /// Records in `channels`, key digests in `keys`.
    pub fn new(channels: Arc<dyn KeyValue>, keys: Arc<dyn KeyValue>) -> Self {
        Self { channels, keys }
    }

    /// Stores a new channel and its stream key.
    pub async fn create(&self, record: &ChannelRecord, stream_key: &str) -> Result<(), RecordError> {
        self.channels.create(&record.id, encode_json(record)).await?;
        self.keys.create(&stream_key_digest(stream_key), Bytes::from(record.id.clone())).await?;
        Ok(())
    }

    /// A channel and its revision.
    pub async fn get(&self, id: &str) -> Result<Option<(ChannelRecord, u64)>, RecordError> {
        get_json(self.channels.as_ref(), id).await
    }

    /// The channel a stream key publishes to.
    pub async fn by_stream_key(&self, stream_key: &str) -> Result<Option<ChannelRecord>, RecordError> {
        let Some(entry) = self.keys.get(&stream_key_digest(stream_key)).await? else { return Ok(None) };
        let id = String::from_utf8_lossy(&entry.value).into_owned();
        Ok(self.get(&id).await?.map(|(record, _)| record))
    }

    /// Read-modify-write with revision checks (see `JobBook::update`).
    pub async fn update(
        &self,
        id: &str,
        change: impl FnMut(&mut ChannelRecord) -> bool + Send,
    ) -> Result<ChannelRecord, RecordError> {
        update_json(self.channels.as_ref(), id, change).await
    }

    /// Every channel id.
    pub async fn ids(&self) -> Result<Vec<String>, RecordError> {
        Ok(self.channels.keys().await?)
    }

    /// Marks a channel ended (if it was not already).
    pub async fn end(&self, id: &str, error: Option<String>) -> Result<ChannelRecord, RecordError> {
        self.update(id, |c| {
            if c.state == ChannelState::Ended {
                return false;
            }
            c.state = ChannelState::Ended;
            c.ended_at_ms = Some(now_ms());
            c.error = error.clone();
            true
        })
        .await
    }
}
