//! One job as the packager sees it: a pure state machine fed with the job's
//! events (in any order, repeats allowed) that says when the job is complete
//! or has failed. No I/O: rebuilding it means replaying the events.

use std::collections::{BTreeMap, HashMap};

use tessera_core::wire::{JobEventKind, JobPlan, Playable, RenditionSpec, SegmentDone, Task};

use crate::error::PackagerError;
use crate::rendition::Rendition;

/// What the job needs after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet.
    Wait,
    /// Every task is done: package it.
    Package,
    /// The job failed and no one has said so yet: publish the failure.
    Fail {
        /// The first failing segment, rendition and reason.
        reason: String,
        /// True when the input is at fault.
        bad_input: bool,
    },
    /// The job already ended (packaged or failed): ignore.
    Ended,
}

/// A job's progress towards its manifests.
#[derive(Debug, Clone, Default)]
pub struct JobAssembly {
    plan: Option<JobPlan>,
    done: BTreeMap<(String, u32), SegmentDone>,
    retries: HashMap<String, String>,
    /// The first failure, kept until [`JobAssembly::end`] confirms it was published.
    failure: Option<(String, bool)>,
    /// The first rendition became playable (the packager's own event, echoed back).
    playable: Option<Playable>,
    ended: bool,
}

impl JobAssembly {
    /// A job with no events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plan, once the coordinator published it.
    pub fn plan(&self) -> Option<&JobPlan> {
        self.plan.as_ref()
    }

    /// When the first rendition became playable, once its event came back.
    pub fn playable(&self) -> Option<&Playable> {
        self.playable.as_ref()
    }

    /// (tasks done, tasks in all); the total is 0 before the plan is known.
    pub fn progress(&self) -> (u64, u64) {
        (self.done.len() as u64, self.plan.as_ref().map_or(0, JobPlan::tasks))
    }

    /// Applies one event.
    pub fn apply(&mut self, event: &JobEventKind) -> Step {
        if self.ended {
            return Step::Ended;
        }
        match event {
            JobEventKind::Planned(plan) => self.plan = Some(plan.clone()),
            JobEventKind::SegmentDone(done) => {
                self.done.insert((done.rendition.clone(), done.seq), done.clone());
            }
            JobEventKind::SegmentFailed(failed) => {
                self.failure.get_or_insert_with(|| (failed.reason.clone(), failed.bad_input));
            }
            JobEventKind::TaskRetry { task, reason } => {
                self.retries.insert(task.clone(), reason.clone());
            }
            JobEventKind::Playable(playable) => {
                self.playable.get_or_insert_with(|| playable.clone());
            }
            JobEventKind::Packaged { .. } | JobEventKind::Failed { .. } | JobEventKind::Cancelled { .. } => {
                self.ended = true;
                return Step::Ended;
            }
            // Live events are the live job's (`live.rs`); its assembly sees segments and failures only.
            JobEventKind::LivePlanned(_)
            | JobEventKind::LiveSegment(_)
            | JobEventKind::LiveEnded { .. }
            | JobEventKind::PartDone(_)
            | JobEventKind::Unknown => {}
        }
        // Until its publication is confirmed, every event repeats the failure.
        if let Some((reason, bad_input)) = &self.failure {
            return Step::Fail { reason: reason.clone(), bad_input: *bad_input };
        }
        if self.is_complete() {
            Step::Package
        } else {
            Step::Wait
        }
    }

    /// A task of this job ran out of deliveries: the job fails with its last error.
    pub fn dead_letter(&mut self, task: &Task, deliveries: u32) -> Step {
        if self.ended || self.done.contains_key(&(task.rendition.name(), task.seq)) {
            return Step::Wait;
        }
        let last = self.retries.get(&task.id()).map_or("no error was reported (the worker was lost)", String::as_str);
        let reason =
            format!("segment {} of {} failed {deliveries} times; last error: {last}", task.seq, task.rendition.name());
        let (reason, bad_input) = self.failure.get_or_insert((reason, false)).clone();
        Step::Fail { reason, bad_input }
    }

    /// Marks the job ended (after packaging or publishing its failure).
    pub fn end(&mut self) {
        self.ended = true;
    }

    fn is_complete(&self) -> bool {
        let Some(plan) = &self.plan else { return false };
        plan.renditions.iter().all(|r| {
            let name = r.name();
            (0..plan.segments).all(|seq| self.done.contains_key(&(name.clone(), seq)))
        })
    }

    /// The segments of `rendition` reported so far, in order.
    pub fn done_segments(&self, rendition: &str) -> Vec<SegmentDone> {
        let name = rendition.to_string();
        self.done.range((name.clone(), 0)..=(name, u32::MAX)).map(|(_, s)| s.clone()).collect()
    }

    /// How far `rendition`'s segments done run unbroken from segment 0, looking
    /// on from `from` (a run known so far): nothing is cloned, so following a
    /// growing run costs one look per segment.
    pub fn done_run(&self, rendition: &str, from: u32) -> u32 {
        let name = rendition.to_string();
        let mut run = from;
        while self.done.contains_key(&(name.clone(), run)) {
            run += 1;
        }
        run
    }

    /// The finished renditions, by kind.
    pub fn renditions(&self) -> Result<Finished, PackagerError> {
        let plan = self.plan.as_ref().ok_or_else(|| PackagerError::Incomplete("no plan".into()))?;
        let mut finished = Finished::default();
        for spec in &plan.renditions {
            let rendition = Rendition::new(spec.clone(), self.done_segments(&spec.name()))?;
            match spec {
                RenditionSpec::Video { .. } => finished.videos.push(rendition),
                RenditionSpec::Audio { .. } => finished.audios.push(rendition),
                RenditionSpec::Thumbnails(_) => finished.thumbnails = Some(rendition),
            }
        }
        Ok(finished)
    }
}

/// A finished job's renditions.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Video rungs in plan order.
    pub videos: Vec<Rendition>,
    /// The audio renditions, one per kept track.
    pub audios: Vec<Rendition>,
    /// The thumbnail sprites.
    pub thumbnails: Option<Rendition>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::wire::{AudioTrack, SegmentFailed, SourceInfo, TrackConfig, WIRE_VERSION};
    use tessera_core::Rung;
    use tessera_media::VideoCodec;

    fn plan() -> JobPlan {
        let rung = Rung::new(VideoCodec::H264, 180, 300);
        JobPlan {
            segments: 2,
            renditions: vec![
                RenditionSpec::Video { rung },
                RenditionSpec::Audio { bitrate_kbps: 128, priming: 1024, track: AudioTrack::default() },
            ],
            source: SourceInfo { width: 320, height: 180, frame_rate: 30.0, duration_secs: 4.0, frames: 120 },
            output_prefix: String::new(),
            first: None,
            submitted_at_ms: None,
            subtitles: Vec::new(),
        }
    }

    fn done(rendition: &str, seq: u32) -> JobEventKind {
        JobEventKind::SegmentDone(SegmentDone {
            key: format!("{rendition}/{seq:06}.m4s"),
            start: u64::from(seq) * 2000,
            duration: 2000,
            timescale: 1000,
            bytes: 1000,
            frames: 60,
            width: 320,
            height: 180,
            codec_string: "avc1.42C00D".into(),
            config: TrackConfig::Aac { asc: vec![0x11, 0x90], channels: 2 },
            psnr: Some(40.0),
            cpu_secs: 0.5,
            ..SegmentDone::new(rendition, seq)
        })
    }

    #[test]
    fn complete_once_every_task_is_done_in_any_order_with_repeats() {
        let mut job = JobAssembly::new();
        assert_eq!(job.apply(&done("aac-128k", 1)), Step::Wait);
        assert_eq!(job.apply(&done("h264-180p", 0)), Step::Wait);
        assert_eq!(job.apply(&JobEventKind::Planned(plan())), Step::Wait);
        assert_eq!(job.progress(), (2, 4));
        assert_eq!(job.apply(&done("h264-180p", 0)), Step::Wait, "a repeat counts once");
        assert_eq!(job.apply(&done("aac-128k", 0)), Step::Wait);
        assert_eq!(job.apply(&done("h264-180p", 1)), Step::Package);
        let Finished { videos, audios, .. } = job.renditions().unwrap();
        let audio = audios.first().cloned();
        assert_eq!(videos.len(), 1);
        assert_eq!(videos[0].segments.iter().map(|s| s.seq).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(audio.unwrap().name(), "aac-128k");
        job.end();
        assert_eq!(job.apply(&done("h264-180p", 1)), Step::Ended);
    }

    #[test]
    fn a_bad_segment_fails_the_job_once() {
        let mut job = JobAssembly::new();
        job.apply(&JobEventKind::Planned(plan()));
        let failed = JobEventKind::SegmentFailed(SegmentFailed {
            rendition: "h264-180p".into(),
            seq: 1,
            reason: "segment 1 of h264-180p: invalid H.264".into(),
            bad_input: true,
        });
        let fail = Step::Fail { reason: "segment 1 of h264-180p: invalid H.264".into(), bad_input: true };
        assert_eq!(job.apply(&failed), fail);
        // Until the failure is published, later events repeat it (a lost publish is retried).
        assert_eq!(job.apply(&done("aac-128k", 0)), fail);
        job.end();
        assert_eq!(job.apply(&failed), Step::Ended);
    }

    #[test]
    fn a_dead_letter_fails_with_the_last_retry_reason() {
        let mut job = JobAssembly::new();
        job.apply(&JobEventKind::Planned(plan()));
        let task = Task {
            version: WIRE_VERSION,
            job: "j".into(),
            seq: 0,
            rendition: plan().renditions[0].clone(),
            source_key: "sources/j/000000.seg".into(),
            output_key: "h264-180p/000000.m4s".into(),
            frame_rate: 30.0,
            published_at_ms: None,
            part_secs: None,
            report_captions: false,
            key_frame_fragment: false,
        };
        job.apply(&JobEventKind::TaskRetry { task: task.id(), reason: "store unreachable".into() });
        match job.dead_letter(&task, 5) {
            Step::Fail { reason, bad_input: false } => {
                assert_eq!(reason, "segment 0 of h264-180p failed 5 times; last error: store unreachable")
            }
            other => panic!("{other:?}"),
        }
    }
}
