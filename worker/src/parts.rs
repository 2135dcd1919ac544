//! A low-latency live task: the segment's source arrives in chunks while
//! it is cut (`sources/{job}/{seq}.{n}.chunk`), and the rendition leaves in
//! parts as they are encoded. One thread decodes and encodes (the segment's
//! encoder state stays here); chunks are read ahead of it from the store,
//! and each part is written and announced (`part_done`) the moment it is
//! coded. The segment itself is its parts one after the other, written last
//! like any task's, so a redelivered task (a killed worker) writes the same
//! parts and segment again: encoding is deterministic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tessera_core::bus::Bus;
use tessera_core::wire::{part_key, source_chunk_key, JobEvent, JobEventKind, PartDone, RenditionSpec, Task};
use tessera_core::{Store, StoreError};
use tessera_media::pipeline::{copy_audio_parts, encode_video_parts, RenditionPart};
use tessera_media::source_segment::{SegmentPacket, SourceSegment, StreamKind};
use tessera_media::MediaError;

use crate::error::WorkerError;

/// How often a chunk that is not there yet is looked for.
const POLL: Duration = Duration::from_millis(20);
/// A segment whose next chunk does not come for this long ends with what
/// arrived (the broadcast's coordinator stopped mid-segment).
const STALLED: Duration = Duration::from_secs(30);

/// Reads the segment's chunks in order into `chunks` until its last one.
async fn read_chunks(
    store: Store,
    job: String,
    seq: u32,
    chunks: tokio::sync::mpsc::Sender<SourceSegment>,
    failure: Arc<Mutex<Option<WorkerError>>>,
) {
    let mut index = 0;
    let mut waited = Duration::ZERO;
    loop {
        let key = source_chunk_key(&job, seq, index);
        match store.get(&key).await {
            Ok(bytes) => {
                let chunk = match SourceSegment::parse(&bytes) {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.into());
                        return;
                    }
                };
                let last = chunk.header.chunk.is_none_or(|c| c.last);
                if chunks.send(chunk).await.is_err() || last {
                    return;
                }
                index += 1;
                waited = Duration::ZERO;
            }
            Err(StoreError::NotFound(_)) if waited < STALLED => {
                tokio::time::sleep(POLL).await;
                waited += POLL;
            }
            Err(StoreError::NotFound(_)) => {
                tracing::warn!(%job, seq, chunk = index, "no source chunk for {} s: the segment ends with what arrived", STALLED.as_secs());
                return;
            }
            Err(e) => {
                *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.into());
                return;
            }
        }
    }
}

/// The packets of one stream across chunks, in order; records each chunk's cut time.
struct ChunkPackets {
    chunks: tokio::sync::mpsc::Receiver<SourceSegment>,
    current: std::vec::IntoIter<SegmentPacket>,
    stream: StreamKind,
    cut_at_ms: Arc<AtomicU64>,
}

impl Iterator for ChunkPackets {
    type Item = Result<SegmentPacket, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(packet) = self.current.next() {
                if packet.stream == self.stream {
                    return Some(Ok(packet));
                }
                continue;
            }
            let chunk = self.chunks.blocking_recv()?;
            if let Some(info) = chunk.header.chunk {
                self.cut_at_ms.store(info.cut_at_ms, Ordering::Relaxed);
            }
            self.current = chunk.packets.into_iter();
        }
    }
}

/// What a streamed task needs from the worker.
pub(crate) struct StreamedTask<'a> {
    /// The bus, for `part_done`.
    pub bus: &'a dyn Bus,
    /// Where source chunks are.
    pub sources: &'a Store,
    /// Where parts and the segment go.
    pub outputs: &'a Store,
}

/// A part as it leaves the encoding thread: the part and its source chunk's cut time.
type CodedPart = (RenditionPart, u64);

impl StreamedTask<'_> {
    /// Runs `task` (part length `part_secs`): writes and announces each part,
    /// then returns the whole segment and its report's figures.
    pub async fn run(
        &self,
        task: &Task,
        part_secs: f64,
        frame_rate: f64,
    ) -> Result<(Vec<u8>, tessera_core::wire::SegmentDone), WorkerError> {
        let seq = task.seq;
        let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<SourceSegment>(256);
        let failure: Arc<Mutex<Option<WorkerError>>> = Arc::default();
        let reader = tokio::spawn(read_chunks(self.sources.clone(), task.job.clone(), seq, chunk_tx, failure.clone()));
        let (part_tx, mut part_rx) = tokio::sync::mpsc::channel::<CodedPart>(64);
        let spec = task.rendition.clone();
        let encode = tokio::task::spawn_blocking(move || encode(seq, spec, chunk_rx, part_secs, frame_rate, part_tx));
        while let Some((part, cut_at_ms)) = part_rx.recv().await {
            let key = part_key(&task.output_key, part.index);
            let bytes = part.fragment.len() as u64;
            self.outputs.put(&key, Bytes::from(part.fragment)).await?;
            let done = PartDone {
                rendition: task.rendition.name(),
                seq,
                part: part.index,
                duration_secs: part.duration as f64 / f64::from(part.timescale.max(1)),
                independent: part.independent,
                bytes,
                source_cut_at_ms: cut_at_ms,
            };
            self.bus.publish(JobEvent::new(&task.job, JobEventKind::PartDone(done)).to_message()).await?;
        }
        let encoded = encode.await.map_err(|e| WorkerError::Internal(format!("task thread failed: {e}")))?;
        reader.abort();
        // A store error while reading explains a segment cut short: retried, not failed.
        if let Some(e) = failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        encoded
    }
}

/// The encoding thread: chunks in, parts out through `parts`, the segment returned.
fn encode(
    seq: u32,
    spec: RenditionSpec,
    mut chunks: tokio::sync::mpsc::Receiver<SourceSegment>,
    part_secs: f64,
    frame_rate: f64,
    parts: tokio::sync::mpsc::Sender<CodedPart>,
) -> Result<(Vec<u8>, tessera_core::wire::SegmentDone), WorkerError> {
    let cpu = cpu_time::ThreadTime::try_now().ok();
    let first = chunks.blocking_recv().ok_or_else(|| WorkerError::BadSourceSegment {
        seq,
        reason: "its first chunk never came (the broadcast stopped)".into(),
    })?;
    let header = first.header.clone();
    let cut_at_ms = Arc::new(AtomicU64::new(header.chunk.map_or(0, |c| c.cut_at_ms)));
    let stream = match spec {
        RenditionSpec::Video { .. } => StreamKind::Video,
        RenditionSpec::Audio { .. } => StreamKind::Audio(0),
        RenditionSpec::Thumbnails(_) => return Err(not_streamed()),
    };
    let packets = ChunkPackets { chunks, current: first.packets.into_iter(), stream, cut_at_ms: cut_at_ms.clone() };
    let mut on_part = |part: RenditionPart| {
        parts
            .blocking_send((part, cut_at_ms.load(Ordering::Relaxed)))
            .map_err(|_| MediaError::Unsupported("the task stopped".into()))
    };
    let (fragment, done) = match &spec {
        RenditionSpec::Video { rung } => {
            let target = crate::transcode::rung_target(rung, frame_rate);
            let out = encode_video_parts(seq, &header.video, packets, &target, part_secs, &mut on_part)?;
            let figures = crate::encode_child::EncodedFigures::of(&out, 0.0);
            (out.fragment, crate::report::figures_done(figures, &spec, seq))
        }
        RenditionSpec::Audio { .. } => {
            let out = copy_audio_parts(seq, &header, packets, part_secs, &mut on_part)?;
            let done = crate::report::audio_done(&out, &spec, seq);
            (out.fragment, done)
        }
        RenditionSpec::Thumbnails(_) => return Err(not_streamed()),
    };
    let cpu_secs = cpu.map_or(0.0, |t| t.elapsed().as_secs_f64());
    Ok((fragment, tessera_core::wire::SegmentDone { cpu_secs, ..done }))
}

/// Thumbnails are taken from whole source segments only.
fn not_streamed() -> WorkerError {
    WorkerError::Internal("thumbnails are not made from streamed live segments".into())
}
