//! Cutting in a child process: a child that crashes, before its plan or
//! after it, fails only its job, as bad input saying the source crashed the
//! parser (the real child is exercised by every `tessera transcode` test and
//! by the services). The children here are shell scripts standing in for a
//! parser that dies, since no file is known to crash libavformat.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_coordinator::cutting::Cutter;
use tessera_coordinator::upload::{AudioSummary, PlanSummary};
use tessera_coordinator::{run_vod_job, CoordinatorError, VodJobSpec};
use tessera_core::bus::{Bus, MemoryBus};
use tessera_core::wire::{job_events_subject, JobEvent, JobEventKind, SourceInfo, WorkerClass, EVENTS_STREAM};
use tessera_core::{Ladder, Rung, SegmentDuration, Store};
use tessera_media::{Limits, SpeedPreset, VideoCodec};
use tokio_util::sync::CancellationToken;

/// A script that reads its request, prints `before` to stdout, a line to stderr, then dies by SIGSEGV.
fn crashing_child(dir: &Path, before: &[u8]) -> PathBuf {
    std::fs::write(dir.join("before.bin"), before).unwrap();
    let script = dir.join("cut-child.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\ncat '{}'\necho 'decoding slice 3: out of bounds' >&2\nkill -SEGV $$\n",
            dir.join("before.bin").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn spec(job: &str, cutter: Cutter) -> VodJobSpec {
    VodJobSpec {
        job: job.into(),
        ladder: Ladder { rungs: vec![Rung::new(VideoCodec::H264, 180, 300)], per_title: false },
        segment_duration: SegmentDuration::vod(Some(1.0)).unwrap(),
        speed: SpeedPreset::Veryfast,
        output_prefix: format!("outputs/{job}"),
        class: WorkerClass::Cpu,
        limits: Limits::default(),
        traceparent: None,
        cutter,
        outage_window: Duration::from_secs(5),
        submitted_at_ms: None,
        thumbnail_interval_secs: 0.0,
        audio_languages: Vec::new(),
        subtitles: Vec::new(),
    }
}

async fn failure(bus: &MemoryBus, job: &str) -> (String, bool) {
    let events = bus.history(EVENTS_STREAM, &job_events_subject(job)).await.unwrap();
    events
        .iter()
        .filter_map(|m| serde_json::from_slice::<JobEvent>(&m.message.payload).ok())
        .find_map(|e| match e.kind {
            JobEventKind::Failed { reason, bad_input } => Some((reason, bad_input)),
            _ => None,
        })
        .expect("a failed event")
}

#[tokio::test]
async fn a_child_that_crashes_fails_its_job_as_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bus = MemoryBus::new();
    let store = Store::in_memory();
    let upload = dir.path().join("upload.mp4");
    std::fs::write(&upload, b"whatever the parser chokes on").unwrap();
    let cancel = CancellationToken::new();

    // Before any plan.
    let script = crashing_child(dir.path(), b"");
    let result = run_vod_job(&bus, &store, &spec("early", Cutter::Child(script)), upload.clone(), &cancel).await;
    let Err(e @ CoordinatorError::BadSource(_)) = result else { panic!("{result:?}") };
    assert_eq!(
        e.to_string(),
        "the source crashed the parser (killed by signal 11, SIGSEGV): decoding slice 3: out of bounds"
    );
    assert_eq!(failure(&bus, "early").await, (e.to_string(), true));

    // After its plan, before its first segment: the job was planned, then fails.
    let plan = PlanSummary {
        source: SourceInfo { width: 320, height: 180, frame_rate: 30.0, duration_secs: 2.0, frames: 60 },
        segments: 2,
        audio: vec![AudioSummary { bitrate_kbps: 128, priming: 1024, language: None, title: None, default: true }],
        per_title: Vec::new(),
    };
    let json = serde_json::to_vec(&plan).unwrap();
    let mut frame = vec![b'P'];
    frame.extend_from_slice(&(json.len() as u32).to_be_bytes());
    frame.extend_from_slice(&json);
    // And half a segment frame: cut off mid-write.
    frame.extend_from_slice(&[b'S', 0, 0, 1, 0, 0, 0, 0, 0]);
    let script = crashing_child(dir.path(), &frame);
    let result = run_vod_job(&bus, &store, &spec("late", Cutter::Child(script)), upload, &cancel).await;
    assert!(
        matches!(&result, Err(CoordinatorError::BadSource(m)) if m.starts_with("the source crashed the parser")),
        "{result:?}"
    );
    let (reason, bad_input) = failure(&bus, "late").await;
    assert!(reason.contains("SIGSEGV") && bad_input, "{reason}");
    assert!(store.list("sources/late").await.unwrap().is_empty(), "no segment was stored");
}
