//! A broadcast from the coordinator's side: the gate that admits a publisher
//! by its stream key, then the broadcast task that cuts the publish into
//! source segments and publishes, per segment, a `live_segment` event and
//! one task per rendition (the same tasks as VOD). The renditions are fixed
//! at the first segment, from the source's size and whether it has audio.
//! The broadcast ends when the publisher stops or disconnects, or when the
//! channel is ended through the API; then `live_ended` tells the packager to
//! finalize the playlists as VOD at the same URLs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::bus::Bus;
use tessera_core::channels::{ChannelBook, ChannelRecord, ChannelState};
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

/// How often a running broadcast checks whether its channel was ended through the API.
const CHANNEL_POLL: Duration = Duration::from_secs(1);

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

/// Admits publishers whose stream key names an idle channel.
pub struct ChannelGate {
    deps: LiveDeps,
    live: Arc<Mutex<HashSet<String>>>,
}

impl ChannelGate {
    /// A gate over these channels.
    pub fn new(deps: LiveDeps) -> Self {
        Self { deps, live: Arc::new(Mutex::new(HashSet::new())) }
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
        if channel.state == ChannelState::Ended {
            return Err(format!("channel {} has ended; create a new one", channel.id));
        }
        {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            if !live.insert(channel.id.clone()) {
                return Err(format!("channel {} already has a publisher", channel.id));
            }
        }
        let (tx, rx) = mpsc::channel(1024);
        let (deps, live) = (self.deps.clone(), self.live.clone());
        tokio::spawn(async move {
            let id = channel.id.clone();
            if let Err(e) = run(&deps, channel, rx).await {
                tracing::error!(channel = %id, error = %e, "broadcast failed");
                let _ = deps.channels.end(&id, Some(e.to_string())).await;
                let event =
                    JobEvent::new(&id, JobEventKind::Failed { reason: e.to_string(), bad_input: e.is_bad_input() });
                let _ = deps.bus.publish(event.to_message()).await;
            }
            live.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
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

/// Runs one broadcast to its end.
async fn run(deps: &LiveDeps, channel: ChannelRecord, mut rx: mpsc::Receiver<Ingest>) -> Result<(), CoordinatorError> {
    let id = channel.id.clone();
    let mut submission = JobSubmission::new(&id, "rtmp", channel.ladder.clone(), &channel.output_prefix);
    submission.segment_duration_secs = channel.segment_duration_secs;
    submission.speed = channel.speed.clone();
    submission.class = channel.class;
    match deps.jobs.create(&JobRecord::queued(submission, None)).await {
        Ok(()) | Err(JobBookError::Kv(KvError::AlreadyExists(_))) => {}
        Err(e) => return Err(e.into()),
    }
    deps.channels
        .update(&id, |c| {
            c.state = ChannelState::Live;
            c.started_at_ms.get_or_insert_with(now_ms);
            true
        })
        .await?;
    tracing::info!(channel = %id, "broadcast started");
    let target = Duration::try_from_secs_f64(channel.segment_duration_secs)
        .map_err(|e| CoordinatorError::Internal(format!("segment duration: {e}")))?;
    let mut cutter = StreamCutter::new(target, 0);
    let mut broadcast: Option<(Vec<RenditionSpec>, f64)> = None;
    let mut poll = tokio::time::interval(CHANNEL_POLL);
    loop {
        let message = tokio::select! {
            message = rx.recv() => message.unwrap_or(Ingest::End),
            _ = poll.tick() => {
                match deps.channels.get(&id).await {
                    Ok(Some((c, _))) if c.state == ChannelState::Ended => Ingest::End,
                    _ => continue,
                }
            }
        };
        let segment = cutter.push(message)?;
        if let Some(segment) = segment {
            if broadcast.is_none() {
                let renditions = renditions(&channel, &segment)?;
                let info = segment.video.sps_info()?;
                let plan = LivePlan {
                    renditions: renditions.clone(),
                    source: SourceInfo {
                        width: info.width,
                        height: info.height,
                        frame_rate: info.fps.unwrap_or(segment.frames as f64 / segment.duration_secs.max(0.1)),
                        duration_secs: 0.0,
                        frames: 0,
                    },
                    output_prefix: channel.output_prefix.clone(),
                    window: channel.window,
                    target_duration_secs: channel.segment_duration_secs,
                    // The first segment's end arrived just now: time 0 was that long ago.
                    started_at_ms: now_ms()
                        .saturating_sub(((segment.start_secs + segment.duration_secs) * 1000.0) as u64),
                };
                let frame_rate = plan.source.frame_rate;
                deps.bus.publish(JobEvent::new(&id, JobEventKind::LivePlanned(plan)).to_message()).await?;
                broadcast = Some((renditions, frame_rate));
            }
            if let Some((renditions, frame_rate)) = &broadcast {
                let cut = LiveSegmentCut {
                    seq: segment.seq,
                    start_secs: segment.start_secs,
                    duration_secs: segment.duration_secs,
                };
                deps.bus.publish(JobEvent::new(&id, JobEventKind::LiveSegment(cut)).to_message()).await?;
                let target = SegmentTarget {
                    job: &id,
                    class: channel.class,
                    output_prefix: &channel.output_prefix,
                    renditions,
                    frame_rate: *frame_rate,
                    traceparent: None,
                };
                publish_segment(deps.bus.as_ref(), &deps.store, &target, segment.seq, segment.bytes).await?;
                let seq = segment.seq;
                deps.channels
                    .update(&id, |c| {
                        c.segments = seq + 1;
                        true
                    })
                    .await?;
            }
        }
        if cutter.ended() {
            break;
        }
    }
    let segments = cutter.next_seq();
    deps.channels.end(&id, None).await?;
    if segments == 0 {
        let reason = "the broadcast ended before its first segment".to_string();
        deps.bus.publish(JobEvent::new(&id, JobEventKind::Failed { reason, bad_input: true }).to_message()).await?;
    } else {
        deps.bus.publish(JobEvent::new(&id, JobEventKind::LiveEnded { segments }).to_message()).await?;
    }
    tracing::info!(channel = %id, segments, "broadcast ended");
    Ok(())
}
