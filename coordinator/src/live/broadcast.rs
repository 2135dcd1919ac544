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

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::records::channels::{
    ChannelBook, ChannelInput, ChannelRecord, ChannelState, PendingSegment, BROADCAST_HEARTBEAT_MS,
};
use crate::records::jobs::{JobBook, JobRecord};
use async_trait::async_trait;
use opentelemetry::KeyValue;
use tessera_core::bus::Bus;
use tessera_core::clock::now_ms;
use tessera_core::kv::KvError;
use tessera_core::kv::RecordError;
use tessera_core::telemetry::{self, PastSpan, TraceParent};
use tessera_core::wire::JobSubmission;
use tessera_core::wire::{AudioTrack, JobEvent, JobEventKind, LivePlan, LiveSegmentCut, RenditionSpec, SourceInfo};
use tessera_core::Store;
use tessera_media::live_segmenter::{LiveSegment, LiveVideo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cutter::StreamCutter;
use super::publish::{Ingest, PublishGate};
use crate::error::CoordinatorError;
use crate::vod::{publish_tasks, traced, SegmentTarget};

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

    /// The channel `stream_key` names.
    async fn channel(&self, stream_key: &str) -> Result<ChannelRecord, String> {
        match self.deps.channels.by_stream_key(stream_key).await {
            Ok(Some(channel)) => Ok(channel),
            Ok(None) => Err("unknown stream key".into()),
            Err(e) => Err(format!("channels unavailable: {e}")),
        }
    }
}

#[async_trait]
impl PublishGate for ChannelGate {
    async fn srt_passphrase(&self, stream_key: &str) -> Result<Option<String>, String> {
        Ok(self.channel(stream_key).await?.srt_passphrase)
    }

    async fn open(&self, protocol: &'static str, stream_key: &str) -> Result<mpsc::Sender<Ingest>, String> {
        let channel = self.channel(stream_key).await?;
        // Take the channel's lease: refused when it ended or someone publishes.
        let token = uuid::Uuid::new_v4().simple().to_string();
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
                c.publisher = Some(token.clone());
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
            let publish = Publish {
                deps: deps.clone(),
                protocol,
                token: token.clone(),
                last_media_ms: Arc::new(AtomicU64::new(now_ms())),
                lost: Arc::default(),
            };
            let outcome = publish.run(claimed, rx).await;
            // Release the lease (only if it is still ours).
            let released = deps
                .channels
                .update(&id, |c| {
                    if c.publisher.as_deref() != Some(token.as_str()) {
                        return false;
                    }
                    c.publisher = None;
                    c.broadcasting = false;
                    if let Err(e) = &outcome {
                        c.error = Some(e.to_string());
                        // The input is at fault: reconnecting will not help, end now.
                        if e.is_bad_input() && c.state != ChannelState::Ended {
                            c.state = ChannelState::Ended;
                            c.ended_at_ms = Some(now_ms());
                        }
                    }
                    true
                })
                .await;
            match (&outcome, released) {
                (Err(e), _) => tracing::error!(channel = %id, error = %e, "publish stopped"),
                (Ok(()), Err(e)) => tracing::warn!(channel = %id, error = %e, "could not release the channel's lease"),
                _ => {}
            }
        });
        Ok(tx)
    }
}

/// What fixes a broadcast's plan: its first segment (or, streaming, the
/// first segment's opening).
struct FirstCut {
    video: LiveVideo,
    /// Frame rate when the stream does not declare one.
    measured_fps: f64,
    /// The audio's bitrate, when there is audio.
    audio_kbps: Option<u32>,
    /// Where on the timeline the media that fixed it ends (s).
    end_secs: f64,
}

impl FirstCut {
    fn of_segment(first: &LiveSegment) -> Self {
        let kbps = (first.audio_bytes as f64 * 8.0 / first.duration_secs.max(0.1) / 1000.0).round() as u32;
        Self {
            video: first.video.clone(),
            measured_fps: first.frames as f64 / first.duration_secs.max(0.1),
            audio_kbps: (first.audio_bytes > 0).then_some(kbps),
            end_secs: first.start_secs + first.duration_secs,
        }
    }
}

/// The AAC bitrate a streamed broadcast's audio rendition is named for
/// (its first segment is not cut yet when its tasks go out).
const STREAMED_AUDIO_KBPS: u32 = 128;

/// The renditions of a broadcast, from its first segment.
fn renditions(channel: &ChannelRecord, first: &FirstCut) -> Result<Vec<RenditionSpec>, CoordinatorError> {
    let height = first.video.height;
    let speed = channel.speed;
    let mut renditions: Vec<RenditionSpec> = channel
        .ladder
        .for_source(height)?
        .into_iter()
        .map(|mut rung| {
            rung.speed = Some(rung.speed.unwrap_or(speed));
            RenditionSpec::Video { rung }
        })
        .collect();
    if let Some(kbps) = first.audio_kbps {
        renditions.push(RenditionSpec::Audio { bitrate_kbps: kbps, priming: 0, track: AudioTrack::default() });
    }
    Ok(renditions)
}

/// Attempts of a store, bus or record write before the publish gives up.
const ATTEMPTS: u32 = 6;

/// Retries a transient failure with back-off (0.25 s doubling): one S3 or
/// NATS hiccup must not end a broadcast.
async fn retried<T, F, Fut>(what: &str, mut attempt: F) -> Result<T, CoordinatorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CoordinatorError>>,
{
    let mut delay = Duration::from_millis(250);
    let mut n = 1;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_bad_input() || n >= ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, attempt = n, "{what} failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                n += 1;
            }
        }
    }
}

/// One publish of a broadcast (the first, or one continuing it after a reconnect).
struct Publish {
    deps: LiveDeps,
    /// `rtmp` or `srt`.
    protocol: &'static str,
    /// Lease token: every record change is made only while the lease is ours.
    token: String,
    /// When media last arrived: the lease is renewed only while it does.
    last_media_ms: Arc<AtomicU64>,
    /// Set when another publish took the lease over: this one stops without touching the channel.
    lost: Arc<std::sync::atomic::AtomicBool>,
}

impl Publish {
    /// Updates the channel if the lease is still ours; `Ok(None)` when it is not.
    async fn update(
        &self,
        id: &str,
        mut change: impl FnMut(&mut ChannelRecord) + Send,
    ) -> Result<Option<ChannelRecord>, CoordinatorError> {
        let mut ours = false;
        let record = self
            .deps
            .channels
            .update(id, |c| {
                ours = c.publisher.as_deref() == Some(self.token.as_str());
                if ours {
                    change(c);
                }
                ours
            })
            .await?;
        Ok(ours.then_some(record))
    }

    /// Renews the lease every second while media arrives (a silent publisher
    /// lets it lapse, so a reconnect can take over); cancels `stop` when the
    /// channel was ended (DELETE) or the lease went to another publish.
    async fn keep_lease(&self, id: &str, stop: &CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(BROADCAST_HEARTBEAT_MS));
        loop {
            tick.tick().await;
            let silent =
                now_ms().saturating_sub(self.last_media_ms.load(Ordering::Relaxed)) > 3 * BROADCAST_HEARTBEAT_MS;
            let seen = if silent {
                self.deps.channels.get(id).await.map(|c| c.map(|(c, _)| c)).map_err(CoordinatorError::from)
            } else {
                self.update(id, |c| c.last_activity_ms = now_ms()).await
            };
            let record = match seen {
                Ok(record) => record,
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "could not renew the channel's lease");
                    continue;
                }
            };
            let ours = record.as_ref().is_some_and(|c| c.publisher.as_deref() == Some(self.token.as_str()));
            if !ours {
                self.lost.store(true, Ordering::Relaxed);
                stop.cancel();
                return;
            }
            if record.is_some_and(|c| c.state == ChannelState::Ended) {
                stop.cancel();
                return;
            }
        }
    }

    /// Publishes the plan at the broadcast's first segment and records it on the channel.
    async fn plan(&self, channel: &mut ChannelRecord, first: &FirstCut) -> Result<(), CoordinatorError> {
        let renditions = renditions(channel, first)?;
        let video = &first.video;
        let frame_rate = video.fps.unwrap_or(first.measured_fps);
        // The media that fixed the plan arrived just now: time 0 was that long ago.
        let origin_ms = now_ms().saturating_sub((first.end_secs * 1000.0) as u64);
        let plan = LivePlan {
            renditions: renditions.clone(),
            source: SourceInfo { width: video.width, height: video.height, frame_rate, duration_secs: 0.0, frames: 0 },
            output_prefix: channel.output_prefix.clone(),
            window: channel.window,
            target_duration_secs: channel.segment_duration.secs(),
            started_at_ms: origin_ms,
            part_secs: channel.part_secs,
        };
        let event = JobEvent::new(&channel.id, JobEventKind::LivePlanned(plan));
        retried("publishing the plan", || async { Ok(self.deps.bus.publish(event.to_message()).await?) }).await?;
        let size = (video.width, video.height);
        self.update(&channel.id, |c| {
            c.renditions = renditions.clone();
            c.frame_rate = frame_rate;
            c.origin_ms = origin_ms;
            c.video_size = Some(size);
        })
        .await?;
        channel.renditions = renditions;
        channel.frame_rate = frame_rate;
        channel.origin_ms = origin_ms;
        channel.video_size = Some(size);
        Ok(())
    }

    /// Publishes one segment in two phases: it is recorded as pending, then
    /// its source, event and tasks go out, then it is committed. A publish
    /// that dies half-way leaves the pending mark for the next one. Each
    /// segment is a trace of its own (a `live.segment` root span, then its
    /// tasks and the playlist update), which shows where its latency goes.
    async fn publish(
        &self,
        channel: &ChannelRecord,
        pending: PendingSegment,
        bytes: Option<Vec<u8>>,
    ) -> Result<(), CoordinatorError> {
        let id = channel.id.as_str();
        let trace = TraceParent::new_root();
        let traceparent = trace.header();
        let published_ms = now_ms();
        let mark = pending.clone();
        retried("recording the segment", || async {
            self.update(id, |c| c.pending = Some(mark.clone())).await.map(|_| ())
        })
        .await?;
        let target = SegmentTarget {
            job: id,
            class: channel.class,
            output_prefix: &channel.output_prefix,
            renditions: &channel.renditions,
            frame_rate: channel.frame_rate,
            traceparent: Some(&traceparent),
            part_secs: channel.part_secs,
            first: None,
            trick_play: false,
        };
        let seq = pending.seq;
        let source_key = tessera_core::wire::source_segment_key(id, seq);
        if let Some(bytes) = bytes {
            let bytes = bytes::Bytes::from(bytes);
            retried("writing the source segment", || async {
                Ok(self.deps.store.put(&source_key, bytes.clone()).await?)
            })
            .await?;
        }
        let cut = LiveSegmentCut {
            seq,
            start_secs: pending.start_secs,
            duration_secs: pending.duration_secs,
            discontinuity: pending.discontinuity,
        };
        let event = JobEvent::new(id, JobEventKind::LiveSegment(cut));
        retried("publishing the segment", || async {
            Ok(self.deps.bus.publish(traced(event.to_message(), Some(&traceparent))).await?)
        })
        .await?;
        // A streamed segment's tasks went out when it opened ([`Self::stream`]).
        if channel.part_secs.is_none() {
            retried("publishing the tasks", || publish_tasks(self.deps.bus.as_ref(), &target, seq)).await?;
        }
        let end = pending.start_secs + pending.duration_secs;
        retried("committing the segment", || async {
            self.update(id, |c| {
                c.segments = c.segments.max(seq + 1);
                c.timeline_end_secs = c.timeline_end_secs.max(end);
                c.pending = None;
                c.last_activity_ms = now_ms();
            })
            .await
            .map(|_| ())
        })
        .await?;
        telemetry::record_span(PastSpan {
            name: "live.segment",
            id: Some(trace),
            parent: None,
            start_ms: published_ms,
            end_ms: now_ms(),
            attributes: vec![
                KeyValue::new("job", id.to_string()),
                KeyValue::new("segment", i64::from(seq)),
                KeyValue::new("duration_secs", pending.duration_secs),
            ],
            error: None,
        });
        Ok(())
    }

    /// A low-latency channel's streaming: writes the chunks that are ready,
    /// then sends out the tasks of segments that opened (planning the
    /// broadcast at its first), so workers encode a segment while it is cut.
    /// Its `live_segment` event and commit follow when it closes.
    async fn stream(&self, channel: &mut ChannelRecord, cutter: &mut StreamCutter) -> Result<(), CoordinatorError> {
        for chunk in cutter.take_chunks(now_ms())? {
            let key = tessera_core::wire::source_chunk_key(&channel.id, chunk.seq, chunk.index);
            let bytes = bytes::Bytes::from(chunk.bytes);
            retried("writing a source chunk", || async { Ok(self.deps.store.put(&key, bytes.clone()).await?) }).await?;
        }
        for seq in cutter.take_opened() {
            if channel.renditions.is_empty() {
                let video = cutter.video().cloned().ok_or_else(|| {
                    CoordinatorError::Internal("a segment opened before the video's configuration".into())
                })?;
                let first = FirstCut {
                    measured_fps: 30.0,
                    audio_kbps: cutter.audio().map(|_| STREAMED_AUDIO_KBPS),
                    end_secs: 0.0,
                    video,
                };
                self.plan(channel, &first).await?;
            }
            let target = SegmentTarget {
                job: &channel.id,
                class: channel.class,
                output_prefix: &channel.output_prefix,
                renditions: &channel.renditions,
                frame_rate: channel.frame_rate,
                traceparent: None,
                part_secs: channel.part_secs,
                first: None,
                trick_play: false,
            };
            retried("publishing the tasks", || publish_tasks(self.deps.bus.as_ref(), &target, seq)).await?;
        }
        Ok(())
    }

    /// Runs the publish to its end. A clean unpublish (or a DELETE) ends the
    /// channel; a lost connection leaves it live for the reconnect grace (the
    /// [`sweeper`](super::sweeper) ends it if nobody comes back).
    async fn run(&self, mut channel: ChannelRecord, mut rx: mpsc::Receiver<Ingest>) -> Result<(), CoordinatorError> {
        let id = channel.id.clone();
        let mut submission = JobSubmission::new(&id, "rtmp", channel.ladder.clone(), &channel.output_prefix);
        submission.segment_duration = channel.segment_duration;
        submission.speed = channel.speed;
        submission.class = channel.class;
        match self.deps.jobs.create(&JobRecord::queued(submission, None)).await {
            Ok(()) | Err(RecordError::Kv(KvError::AlreadyExists(_))) => {}
            Err(e) => return Err(e.into()),
        }
        // A segment a dead publish left half-published is finished first
        // (its source is in the store; re-publishing is deduplicated).
        if let Some(pending) = channel.pending.clone() {
            let written = self.deps.store.exists(&tessera_core::wire::source_segment_key(&id, pending.seq)).await?;
            if written {
                tracing::info!(channel = %id, seq = pending.seq, "finishing a half-published segment");
                self.publish(&channel, pending, None).await?;
            }
            if let Some((latest, _)) = self.deps.channels.get(&id).await? {
                channel = latest;
            }
        }
        let resumed = !channel.renditions.is_empty();
        // A reconnect resumes at the wall clock, so program date times stay right and DASH stays available.
        let since_origin = if resumed { now_ms().saturating_sub(channel.origin_ms) as f64 / 1000.0 } else { 0.0 };
        let offset = channel.timeline_end_secs.max(since_origin);
        tracing::info!(channel = %id, resumed, from_segment = channel.segments, at_secs = offset, "publish started");
        let mut cutter = StreamCutter::new(channel.segment_duration.duration(), channel.segments, offset);
        if channel.part_secs.is_some() {
            cutter = cutter.streaming();
        }
        let stop = CancellationToken::new();
        let lease = async {
            self.keep_lease(&id, &stop).await;
            // Stopping is the media loop's business now; this branch never finishes.
            std::future::pending::<()>().await
        };
        let media = async {
            let mut first_of_publish = true;
            let mut clean = false;
            loop {
                let message = tokio::select! {
                    message = rx.recv() => message.unwrap_or(Ingest::End { clean: false }),
                    _ = stop.cancelled() => Ingest::End { clean: true },
                };
                self.last_media_ms.store(now_ms(), Ordering::Relaxed);
                if let Ingest::End { clean: was_clean } = message {
                    clean = was_clean;
                }
                let segments = cutter.push(message)?;
                if channel.part_secs.is_some() {
                    self.stream(&mut channel, &mut cutter).await?;
                }
                for segment in segments {
                    if channel.renditions.is_empty() {
                        self.plan(&mut channel, &FirstCut::of_segment(&segment)).await?;
                    } else if let Some(size) = channel.video_size {
                        let (width, height) = (segment.video.width, segment.video.height);
                        if size != (width, height) {
                            return Err(CoordinatorError::Media(tessera_media::MediaError::Unsupported(format!(
                                "the publisher came back at {width}x{height}, the broadcast is {}x{}: start a new channel",
                                size.0, size.1
                            ))));
                        }
                    }
                    if first_of_publish {
                        let input = ChannelInput {
                            protocol: self.protocol.to_string(),
                            video: segment.video.describe(),
                            audio: cutter.audio().map(|a| format!("AAC {} Hz, {} channels", a.sample_rate, a.channels)),
                        };
                        tracing::info!(channel = %id, protocol = self.protocol, video = %input.video, "publish sends");
                        retried("recording the input", || async {
                            self.update(&id, |c| c.input = Some(input.clone())).await.map(|_| ())
                        })
                        .await?;
                    }
                    let pending = PendingSegment {
                        seq: segment.seq,
                        start_secs: segment.start_secs,
                        duration_secs: segment.duration_secs,
                        discontinuity: resumed && first_of_publish,
                    };
                    first_of_publish = false;
                    // Streamed segments' sources are their chunks, already written.
                    let bytes = channel.part_secs.is_none().then_some(segment.bytes);
                    self.publish(&channel, pending, bytes).await?;
                }
                if cutter.ended() {
                    return Ok::<bool, CoordinatorError>(clean);
                }
            }
        };
        let clean = tokio::select! {
            clean = media => clean?,
            () = lease => false,
        };
        if self.lost.load(Ordering::Relaxed) {
            tracing::info!(channel = %id, "another publish took the channel over");
        } else if clean {
            self.deps.channels.end(&id, None).await?;
            tracing::info!(channel = %id, segments = cutter.next_seq(), "broadcast ended");
        } else {
            tracing::info!(channel = %id, "publisher lost; waiting for it to reconnect");
        }
        Ok(())
    }
}
