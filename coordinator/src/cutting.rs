//! Where an upload is cut: on a blocking thread of this process, or in a
//! child process where a crash ends only that cut. libavformat and
//! libavcodec are C parsing untrusted bytes: a source that crashes them
//! (a segfault, an abort, a stack overflow) must not take the coordinator's
//! API, its RTMP listener and every other job with it, nor crash-loop it
//! through redelivery. So a coordinator cuts each upload in a child process
//! (`tessera cut-child`, the same binary) that reads the upload and writes
//! the plan and the source segments to its stdout; the coordinator stores
//! and publishes them as before. A child that dies without finishing fails
//! the job as bad input: "the source crashed the parser".
//!
//! The framing on the child's stdout is hand-written (a kind byte, a 4-byte
//! big-endian length, the payload): it is four lines to read and write, and
//! both ends are this binary. Kinds: `P` the [`PlanSummary`] as JSON, `S` a
//! segment (4-byte seq, then its bytes), `E` an error as JSON
//! ([`ChildError`]), `D` done.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, oneshot};

use tessera_core::{Ladder, SegmentDuration};
use tessera_media::Limits;

use crate::error::CoordinatorError;
use crate::upload::{PlanSummary, UploadPlan};

/// What the child is asked to cut (its stdin, as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CutRequest {
    /// The upload, a local file.
    pub path: PathBuf,
    /// Target segment duration (named `segment_duration_secs` by earlier builds).
    #[serde(alias = "segment_duration_secs")]
    pub segment_duration: SegmentDuration,
    /// Input limits.
    pub limits: Limits,
    /// A per-title ladder's rungs to probe before the plan is sent (none: no probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ladder: Option<Ladder>,
    /// The audio languages to keep (empty: every track).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio_languages: Vec<String>,
}

/// Opens and plans the upload (and probes it when asked): the plan's summary.
fn open_and_plan(request: &CutRequest) -> Result<(PlanSummary, UploadPlan), CoordinatorError> {
    let target = request.segment_duration.duration();
    let plan = UploadPlan::open(&request.path, target, &request.limits, &request.audio_languages)?;
    let mut summary = plan.summary()?;
    if let Some(ladder) = &request.probe_ladder {
        summary.per_title = plan.probe_ladder(ladder)?;
    }
    Ok((summary, plan))
}

/// An error the child reports before exiting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildError {
    /// The message, as the in-process cut would give it.
    pub message: String,
    /// Whether the input is at fault.
    pub bad_input: bool,
}

/// The largest frame the parent accepts from a child (a source segment is a
/// few MB; this bounds what a confused child can make the coordinator allocate).
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// Where a job's upload is cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cutter {
    /// On a blocking thread of this process (`tessera transcode`, tests).
    #[default]
    InProcess,
    /// In a child process running this program with `cut-child` (services).
    Child(PathBuf),
}

/// What a cut reports, in order: the plan (once), then segments; an error ends it.
pub(crate) type Planned = oneshot::Sender<Result<PlanSummary, CoordinatorError>>;
/// The segments as they are cut: (seq, bytes), or why the cut stopped.
pub(crate) type Segments = mpsc::Sender<Result<(u32, Vec<u8>), CoordinatorError>>;

/// Cuts on this thread (a blocking one): the plan to `planned`, then the segments.
pub(crate) fn cut_in_process(request: &CutRequest, planned: Planned, segments: Segments) {
    let plan = match open_and_plan(request) {
        Ok((summary, plan)) => {
            let _ = planned.send(Ok(summary));
            plan
        }
        Err(e) => {
            let _ = planned.send(Err(e));
            return;
        }
    };
    // A receiver that went away (a cancelled job) stops the cutting with `Cancelled`.
    let result = plan.cut(|segment| {
        segments.blocking_send(Ok((segment.seq, segment.bytes))).map_err(|_| CoordinatorError::Cancelled)
    });
    match result {
        Ok(()) | Err(CoordinatorError::Cancelled) => {}
        Err(e) => {
            let _ = segments.blocking_send(Err(e));
        }
    }
}

/// The child's side: reads a [`CutRequest`] from stdin, cuts, writes frames
/// to stdout. Returns the process's exit code (0 done, 2 bad input, 1 other).
pub fn run_child() -> i32 {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let request: CutRequest = match serde_json::from_reader(std::io::stdin().lock()) {
        Ok(r) => r,
        Err(e) => {
            let _ = write_error(&mut out, &format!("cut request: {e}"), false);
            return 1;
        }
    };
    let outcome = open_and_plan(&request).and_then(|(summary, plan)| {
        write_frame(&mut out, b'P', &serde_json::to_vec(&summary).unwrap_or_default())?;
        plan.cut(|segment| {
            let mut payload = Vec::with_capacity(4 + segment.bytes.len());
            payload.extend_from_slice(&segment.seq.to_be_bytes());
            payload.extend_from_slice(&segment.bytes);
            write_frame(&mut out, b'S', &payload)
        })
    });
    match outcome {
        Ok(()) => match write_frame(&mut out, b'D', &[]).and_then(|()| flush(&mut out)) {
            Ok(()) => 0,
            Err(_) => 1,
        },
        Err(e) => {
            let code = if e.is_bad_input() { 2 } else { 1 };
            let _ = write_error(&mut out, &e.to_string(), e.is_bad_input());
            code
        }
    }
}

fn write_frame(out: &mut impl Write, kind: u8, payload: &[u8]) -> Result<(), CoordinatorError> {
    let len = u32::try_from(payload.len()).map_err(|_| CoordinatorError::Internal("frame too large".into()))?;
    out.write_all(&[kind])
        .and_then(|()| out.write_all(&len.to_be_bytes()))
        .and_then(|()| out.write_all(payload))
        .map_err(|e| CoordinatorError::Internal(format!("writing to the coordinator: {e}")))
}

fn flush(out: &mut impl Write) -> Result<(), CoordinatorError> {
    out.flush().map_err(|e| CoordinatorError::Internal(format!("writing to the coordinator: {e}")))
}

fn write_error(out: &mut impl Write, message: &str, bad_input: bool) -> Result<(), CoordinatorError> {
    let error = ChildError { message: message.to_string(), bad_input };
    write_frame(out, b'E', &serde_json::to_vec(&error).unwrap_or_default())?;
    flush(out)
}

/// The parent's side: runs `program cut-child` on `request`, sending the
/// plan to `planned` and the segments to `segments`. A child that exits
/// without `D` or `E` crashed: that is bad input naming the signal or code.
pub(crate) async fn cut_in_child(program: &Path, request: CutRequest, planned: Planned, segments: Segments) {
    let mut planned = Some(planned);
    let outcome = drive(program, &request, &mut planned, &segments).await;
    if let Err(e) = outcome {
        match planned.take() {
            Some(p) => {
                let _ = p.send(Err(e));
            }
            None => {
                let _ = segments.send(Err(e)).await;
            }
        }
    }
}

async fn drive(
    program: &Path,
    request: &CutRequest,
    planned: &mut Option<Planned>,
    segments: &Segments,
) -> Result<(), CoordinatorError> {
    let internal = |what: &str, e: std::io::Error| CoordinatorError::Internal(format!("cutting child: {what}: {e}"));
    let mut child = tokio::process::Command::new(program)
        .arg("cut-child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| internal(&format!("cannot start {}", program.display()), e))?;
    let body = serde_json::to_vec(request).map_err(|e| CoordinatorError::Internal(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt;
        stdin.write_all(&body).await.map_err(|e| internal("request", e))?;
    }
    // The child's log lines go to ours; the last one explains a crash.
    let last_line = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    if let Some(stderr) = child.stderr.take() {
        let last_line = last_line.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "tessera::cut_child", "{line}");
                if let Ok(mut last) = last_line.lock() {
                    *last = line;
                }
            }
        });
    }
    let Some(mut stdout) = child.stdout.take() else {
        return Err(CoordinatorError::Internal("cutting child: no stdout".into()));
    };
    loop {
        let Some((kind, payload)) = read_frame(&mut stdout).await? else { break };
        match (kind, planned.take()) {
            (b'P', Some(p)) => {
                let summary: PlanSummary = serde_json::from_slice(&payload)
                    .map_err(|e| CoordinatorError::Internal(format!("cutting child: plan: {e}")))?;
                let _ = p.send(Ok(summary));
            }
            (b'S', None) if payload.len() >= 4 => {
                let seq = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
                if segments.send(Ok((seq, payload[4..].to_vec()))).await.is_err() {
                    // The job was cancelled: the child is killed on drop.
                    return Ok(());
                }
            }
            (b'D', None) => {
                let _ = child.wait().await;
                return Ok(());
            }
            (b'E', waiting) => {
                *planned = waiting;
                let error: ChildError = serde_json::from_slice(&payload)
                    .map_err(|e| CoordinatorError::Internal(format!("cutting child: error: {e}")))?;
                let _ = child.wait().await;
                return Err(if error.bad_input {
                    CoordinatorError::BadSource(error.message)
                } else {
                    CoordinatorError::Internal(error.message)
                });
            }
            (kind, waiting) => {
                *planned = waiting;
                return Err(CoordinatorError::Internal(format!("cutting child: unexpected frame '{}'", kind as char)));
            }
        }
    }
    // The output ended without D or E: the child died.
    let status = child.wait().await.map_err(|e| internal("wait", e))?;
    let last = last_line.lock().map(|l| l.clone()).unwrap_or_default();
    Err(CoordinatorError::BadSource(format!(
        "the source crashed the parser ({}){}",
        describe(status),
        if last.is_empty() { String::new() } else { format!(": {last}") }
    )))
}

/// Reads one frame; None at a clean end of output.
async fn read_frame(stdout: &mut tokio::process::ChildStdout) -> Result<Option<(u8, Vec<u8>)>, CoordinatorError> {
    let mut header = [0u8; 5];
    match stdout.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(CoordinatorError::Internal(format!("cutting child: read: {e}"))),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(CoordinatorError::Internal(format!("cutting child: a {len}-byte frame")));
    }
    let mut payload = vec![0u8; len];
    match stdout.read_exact(&mut payload).await {
        Ok(_) => Ok(Some((header[0], payload))),
        // Cut off mid-frame: the child died while writing.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(CoordinatorError::Internal(format!("cutting child: read: {e}"))),
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(signal)) => format!("killed by signal {signal}{}", signal_name(signal)),
        (Some(code), None) => format!("exit code {code}"),
        (None, None) => "no exit status".into(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => ", SIGABRT",
        9 => ", SIGKILL",
        11 => ", SIGSEGV",
        7 => ", SIGBUS",
        8 => ", SIGFPE",
        4 => ", SIGILL",
        _ => "",
    }
}
