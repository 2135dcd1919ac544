//! SVT-AV1 tasks in a child process of their own (`tessera encode-child`).
//!
//! SVT-AV1 1.4 (Debian 12's) rebuilds process-wide tables each time an
//! encoder opens (its block-geometry table, its wedge masks) while other
//! encoders in the process read them, and frees a shared CPU table when one
//! closes: two segments encoded at once in one process crashed one time in
//! six on a 20 s 720p ladder. One encoder per process cannot race, so a
//! worker runs each SVT-AV1 task in a child: the request and the source
//! segment on stdin, the fragment and its figures on stdout. The child
//! measures its own CPU time (SVT-AV1's threads included). A crash costs
//! that task one delivery, nothing else.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tessera_core::wire::CaptionFrame;
use tessera_core::wire::TrackConfig;
use tessera_core::Rung;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::WorkerError;
use crate::transcode::{transcode_segment, RenditionSegment};

/// What the child encodes (stdin: this as JSON, length-prefixed, then the segment).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EncodeRequest {
    /// Segment number.
    pub seq: u32,
    /// The rung, its speed filled in.
    pub rung: Rung,
    /// The whole source's nominal frame rate.
    pub frame_rate: f64,
}

/// What the child made (stdout: `R` + this as JSON, then the fragment; or `E` + [`ChildFailure`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedFigures {
    /// RFC 6381 codec string.
    pub codec_string: String,
    /// Decoder configuration.
    pub config: TrackConfig,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Timescale of the fragment.
    pub timescale: u32,
    /// Presentation start.
    pub start: u64,
    /// Duration.
    pub duration: u64,
    /// Frames.
    pub frames: u32,
    /// Mean PSNR (all planes), PSNR-Y and SSIM.
    pub quality: [f64; 3],
    /// CPU seconds of the whole child.
    pub cpu_secs: f64,
    /// It carries the source's closed captions.
    #[serde(default)]
    pub closed_captions: bool,
    /// The source pictures' captions.
    #[serde(default)]
    pub caption_frames: Vec<CaptionFrame>,
}

impl EncodedFigures {
    /// The figures of an encoded segment, with the CPU seconds it took.
    pub fn of(out: &RenditionSegment, cpu_secs: f64) -> Self {
        Self {
            codec_string: out.codec_string.clone(),
            config: TrackConfig::from_decoder(&out.config),
            width: out.width,
            height: out.height,
            timescale: out.timescale,
            start: out.start,
            duration: out.duration,
            frames: u32::try_from(out.frames).unwrap_or(u32::MAX),
            quality: [out.quality.psnr, out.quality.psnr_y, out.quality.ssim],
            cpu_secs,
            closed_captions: out.closed_captions,
            caption_frames: out
                .caption_frames
                .iter()
                .map(|(pts, data)| CaptionFrame { pts: *pts, data: data.clone() })
                .collect(),
        }
    }
}

/// Why the child failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildFailure {
    /// The error, as the in-process task would give it.
    pub message: String,
    /// Whether the input is at fault.
    pub bad_input: bool,
}

/// The largest reply a worker reads from a child (a fragment is a few MB).
const MAX_REPLY: usize = 512 * 1024 * 1024;

fn frame(kind: u8, header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + header.len() + body.len());
    out.push(kind);
    out.extend_from_slice(&(header.len() as u32).to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(body);
    out
}

/// The child's side: reads a request and segment from stdin, encodes, writes
/// the reply to stdout. The exit code: 0 done, 2 bad input, 1 other.
pub fn run_child() -> i32 {
    let mut input = Vec::new();
    let reply = match std::io::stdin().lock().read_to_end(&mut input) {
        Ok(_) => encode(&input),
        Err(e) => Err(ChildFailure { message: format!("reading the request: {e}"), bad_input: false }),
    };
    let (bytes, code) = match reply {
        Ok((figures, fragment)) => (frame(b'R', &serde_json::to_vec(&figures).unwrap_or_default(), &fragment), 0),
        Err(failure) => {
            let code = if failure.bad_input { 2 } else { 1 };
            (frame(b'E', &serde_json::to_vec(&failure).unwrap_or_default(), &[]), code)
        }
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
        return 1;
    }
    code
}

fn encode(input: &[u8]) -> Result<(EncodedFigures, Vec<u8>), ChildFailure> {
    let internal = |message: String| ChildFailure { message, bad_input: false };
    let len = input.get(..4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let (header, segment) = match len {
        Some(n) if input.len() >= 4 + n => (&input[4..4 + n], &input[4 + n..]),
        _ => return Err(internal("the request is cut short".into())),
    };
    let request: EncodeRequest =
        serde_json::from_slice(header).map_err(|e| internal(format!("the request is not valid: {e}")))?;
    let cpu = cpu_time::ProcessTime::try_now().ok();
    let out = transcode_segment(segment, request.seq, &request.rung, request.frame_rate)
        .map_err(|e| ChildFailure { message: e.to_string(), bad_input: e.is_bad_input() })?;
    let figures = EncodedFigures::of(&out, cpu.map_or(0.0, |t| t.elapsed().as_secs_f64()));
    Ok((figures, out.fragment))
}

/// The worker's side: runs `program encode-child` on one task.
pub async fn encode_in_child(
    program: &Path,
    request: &EncodeRequest,
    segment: &[u8],
) -> Result<(EncodedFigures, Vec<u8>), WorkerError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| WorkerError::Internal(format!("encode child: {what}: {e}"));
    let mut child = tokio::process::Command::new(program)
        .arg("encode-child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| internal(&format!("cannot start {}", program.display()), &e))?;
    let header = serde_json::to_vec(request).map_err(|e| internal("request", &e))?;
    let mut stdin = child.stdin.take().ok_or_else(|| WorkerError::Internal("encode child: no stdin".into()))?;
    let mut stdout = child.stdout.take().ok_or_else(|| WorkerError::Internal("encode child: no stdout".into()))?;
    let body = {
        let mut body = Vec::with_capacity(4 + header.len() + segment.len());
        body.extend_from_slice(&(header.len() as u32).to_be_bytes());
        body.extend_from_slice(&header);
        body.extend_from_slice(segment);
        body
    };
    // Write and read at once: a child that fails early stops reading.
    let writer = async move {
        let written = stdin.write_all(&body).await;
        drop(stdin);
        written
    };
    let reader = async move {
        let mut reply = Vec::new();
        (&mut stdout).take(MAX_REPLY as u64).read_to_end(&mut reply).await.map(|_| reply)
    };
    let (written, reply) = tokio::join!(writer, reader);
    let status = child.wait().await.map_err(|e| internal("waiting", &e))?;
    let reply = reply.map_err(|e| internal("reading the reply", &e))?;
    let kind = reply.first().copied();
    let len = reply.get(1..5).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let parts = len.filter(|&n| reply.len() >= 5 + n).map(|n| (&reply[5..5 + n], &reply[5 + n..]));
    match (kind, parts) {
        (Some(b'R'), Some((header, fragment))) if status.success() => {
            let figures = serde_json::from_slice(header).map_err(|e| internal("reply", &e))?;
            Ok((figures, fragment.to_vec()))
        }
        (Some(b'E'), Some((header, _))) => {
            let failure: ChildFailure = serde_json::from_slice(header).map_err(|e| internal("reply", &e))?;
            if failure.bad_input {
                Err(WorkerError::BadSourceSegment { seq: request.seq, reason: failure.message })
            } else {
                Err(WorkerError::Internal(format!("encode child: {}", failure.message)))
            }
        }
        _ => {
            written.map_err(|e| internal("writing the request", &e))?;
            Err(WorkerError::Internal(format!("encode child ended without a reply ({status})")))
        }
    }
}
