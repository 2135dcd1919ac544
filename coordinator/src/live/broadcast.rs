//! A broadcast from the coordinator's side: the gate that admits a publisher
//! by its stream key, then the broadcast task that cuts the publish into
//! source segments and publishes, per segment, a `live_segment` event and
//! one task per rendition (the same tasks as VOD). The renditions are fixed
//! at the first segment, from the source's size and whether it has audio.
//! A publisher that stops cleanly, or a DELETE, ends the channel; one whose
//! connection drops may reconnect within the grace period and continue
//! (on any coordinator: the channel record carries the lease, the segment
//! count and the timeline). The [`sweeper`](super::sweeper) ends abandoned
//! channels and sends `live_ended`, on which the packager rewrites the
//! playlists as VOD at the same URLs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::bus::Bus;
use tessera_core::channels::{ChannelBook, ChannelRecord, ChannelState, BROADCAST_HEARTBEAT_MS};
use tessera_core::jobs::{now_ms, JobBook, JobBookError, JobRecord, JobSubmission};
use tessera_core::kv::KvError;
use tessera_core::wire::{JobEvent, JobEventKind, LivePlan, LiveSegmentCut, RenditionSpec, SourceInfo};
use tessera_core::Store;
use tessera_media::live_segmenter::LiveSegment;
use tessera_media::SpeedPreset;
use tokio::sync::mpsc;

use super::cutter::StreamCutter;
use super::rtmp::{Ingest, PublishGate};
use crate::error::CoordinatorError;
use crate::vod::{publish_segment, SegmentTarget};

/// What broadcasts need.
#[derive(Clone)]
pub struct LiveDeps {
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// Sources and outputs.
    pub store: Store,
    /// Job records (a broadcast is a job with the channel's id).
    pub jobs: JobBook,
    /// Channels.
    pub channels: ChannelBook,
}

/// Admits publishers whose stream key names a channel that is not ended
/// and has no publisher right now (a reconnect continues the broadcast).
pub struct ChannelGate {
    deps: LiveDeps,
}

impl ChannelGate {
    /// A gate over these channels.
    pub fn new(deps: LiveDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl PublishGate for ChannelGate {
    async fn open(&self, _app: &str, stream_key: &str) -> Result<mpsc::Sender<Ingest>, String> {
        let channel = match self.deps.channels.by_stream_key(stream_key).await {
            Ok(Some(channel)) => channel,
            Ok(None) => return Err("unknown stream key".into()),
            Err(e) => return Err(format!("channels unavailable: {e}")),
        };
        // Take the channel's lease: refused when it ended or someone publishes.
        let mut refusal = None;
        let claimed = self
            .deps
            .channels
            .update(&channel.id, |c| {
                let now = now_ms();
                refusal = match c.state {
                    ChannelState::Ended => Some(format!("channel {} has ended; create a new one", c.id)),
                    _ if c.has_publisher(now) => Some(format!("channel {} already has a publisher", c.id)),
                    _ => None,
                };
                if refusal.is_some() {
                    return false;
                }
                c.state = ChannelState::Live;
                c.broadcasting = true;
                c.last_activity_ms = now;
                c.started_at_ms.get_or_insert(now);
                true
            })
            .await
            .map_err(|e| format!("channels unavailable: {e}"))?;
        if let Some(reason) = refusal {
            return Err(reason);
        }
        let (tx, rx) = mpsc::channel(1024);
        let deps = self.deps.clone();
        tokio::spawn(async move {
            let id = claimed.id.clone();
            if let Err(e) = run(&deps, claimed, rx).await {
                tracing::error!(channel = %id, error = %e, "broadcast failed");
                let bad_input = e.is_bad_input();
                let _ = deps.channels.end(&id, Some(e.to_string())).await;
                let event = JobEvent::new(&id, JobEventKind::Failed { reason: e.to_string(), bad_input });
                let _ = deps.bus.publish(event.to_message()).await;
            }
            let released = deps.channels.update(&id, |c| std::mem::replace(&mut c.broadcasting, false)).await;
            if let Err(e) = released {
                tracing::warn!(channel = %id, error = %e, "could not release the channel's lease");
            }
        });
        Ok(tx)
    }
}

/// The renditions of a broadcast, from its first segment.
fn renditions(channel: &ChannelRecord, first: &LiveSegment) -> Result<Vec<RenditionSpec>, CoordinatorError> {
    let height = first.video.sps_info()?.height;
    let speed = channel.speed.parse::<SpeedPreset>().map_err(CoordinatorError::Internal)?;
    let mut renditions: Vec<RenditionSpec> = channel
        .ladder
        .for_source(height)?
        .into_iter()
        .map(|mut rung| {
            rung.speed = Some(rung.speed.unwrap_or(speed));
            RenditionSpec::Video { rung }
        })
        .collect();
    if first.audio_bytes > 0 {
        let kbps = (first.audio_bytes as f64 * 8.0 / first.duration_secs.max(0.1) / 1000.0).round() as u32;
        renditions.push(RenditionSpec::Audio { bitrate_kbps: kbps, priming: 0 });
    }
    Ok(renditions)
}

/// Publishes the plan at the broadcast's first segment and records it on the channel.
async fn plan(deps: &LiveDeps, channel: &mut ChannelRecord, first: &LiveSegment) -> Result<(), CoordinatorError> {
    let renditions = renditions(channel, first)?;
    let info = first.video.sps_info()?;
    let frame_rate = info.fps.unwrap_or(first.frames as f64 / first.duration_secs.max(0.1));
    let plan = LivePlan {
        renditions: renditions.clone(),
        source: SourceInfo { width: info.width, height: info.height, frame_rate, duration_secs: 0.0, frames: 0 },
        output_prefix: channel.output_prefix.clone(),
        window: channel.window,
        target_duration_secs: channel.segment_duration_secs,
        // The first segment's end arrived just now: time 0 was that long ago.
        started_at_ms: now_ms().saturating_sub(((first.start_secs + first.duration_secs) * 1000.0) as u64),
    };
    deps.bus.publish(JobEvent::new(&channel.id, JobEventKind::LivePlanned(plan)).to_message()).await?;
    channel.renditions = renditions.clone();
    channel.frame_rate = frame_rate;
    deps.channels
        .update(&channel.id, |c| {
            c.renditions = renditions.clone();
            c.frame_rate = frame_rate;
            true
        })
        .await?;
    Ok(())
}

/// Runs one publish of a broadcast: the first one, or one continuing it
/// after its publisher reconnected (numbering and timeline carry on, the
/// first segment marked as a discontinuity). A clean unpublish ends the
/// channel; a lost connection leaves it live for the reconnect grace (the
/// [`sweeper`](super::sweeper) ends it if nobody comes back).
async fn run(
    deps: &LiveDeps,
    mut channel: ChannelRecord,
    mut rx: mpsc::Receiver<Ingest>,
) -> Result<(), CoordinatorError> {
    let id = channel.id.clone();
    let mut submission = JobSubmission::new(&id, "rtmp", channel.ladder.clone(), &channel.output_prefix);
    submission.segment_duration_secs = channel.segment_duration_secs;
    submission.speed = channel.speed.clone();
    submission.class = channel.class;
    match deps.jobs.create(&JobRecord::queued(submission, None)).await {
        Ok(()) | Err(JobBookError::Kv(KvError::AlreadyExists(_))) => {}
        Err(e) => return Err(e.into()),
    }
    let resumed = !channel.renditions.is_empty();
    tracing::info!(channel = %id, resumed, from_segment = channel.segments, "publish started");
    let target = Duration::try_from_secs_f64(channel.segment_duration_secs)
        .map_err(|e| CoordinatorError::Internal(format!("segment duration: {e}")))?;
    let mut cutter = StreamCutter::new(target, channel.segments, channel.timeline_end_secs);
    let mut first_of_publish = true;
    let mut heartbeat = tokio::time::interval(Duration::from_millis(BROADCAST_HEARTBEAT_MS));
    let mut clean = false;
    loop {
        let message = tokio::select! {
            message = rx.recv() => message.unwrap_or(Ingest::End { clean: false }),
            _ = heartbeat.tick() => {
                // Renew the lease; a DELETE through the API shows up here.
                let renewed = deps.channels.update(&id, |c| {
                    c.last_activity_ms = now_ms();
                    true
                }).await;
                match renewed {
                    Ok(c) if c.state == ChannelState::Ended => Ingest::End { clean: true },
                    _ => continue,
                }
            }
        };
        if let Ingest::End { clean: was_clean } = message {
            clean = was_clean;
        }
        if let Some(segment) = cutter.push(message)? {
            if channel.renditions.is_empty() {
                plan(deps, &mut channel, &segment).await?;
            }
            let cut = LiveSegmentCut {
                seq: segment.seq,
                start_secs: segment.start_secs,
                duration_secs: segment.duration_secs,
                discontinuity: resumed && first_of_publish,
            };
            first_of_publish = false;
            deps.bus.publish(JobEvent::new(&id, JobEventKind::LiveSegment(cut)).to_message()).await?;
            let target = SegmentTarget {
                job: &id,
                class: channel.class,
                output_prefix: &channel.output_prefix,
                renditions: &channel.renditions,
                frame_rate: channel.frame_rate,
                traceparent: None,
            };
            let (seq, end) = (segment.seq, segment.start_secs + segment.duration_secs);
            publish_segment(deps.bus.as_ref(), &deps.store, &target, seq, segment.bytes).await?;
            deps.channels
                .update(&id, |c| {
                    c.segments = c.segments.max(seq + 1);
                    c.timeline_end_secs = end;
                    c.last_activity_ms = now_ms();
                    true
                })
                .await?;
        }
        if cutter.ended() {
            break;
        }
    }
    if clean {
        deps.channels.end(&id, None).await?;
        tracing::info!(channel = %id, segments = cutter.next_seq(), "broadcast ended by its publisher");
    } else {
        tracing::info!(channel = %id, "publisher lost; waiting for it to reconnect");
    }
    Ok(())
}
