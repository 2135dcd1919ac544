//! Watch while it transcodes: the playlists of an unfinished VOD job, written
//! as its segments come in, so an upload plays seconds after its first
//! rendition starts instead of after the whole ladder.
//!
//! The job's first rendition ([`JobPlan::first`], encoded ahead of the rest
//! at the first task priority) and its audio are published as soon as each
//! has its first segment: an `EVENT` playlist of the segments done so far
//! from segment 0 (never across a gap), rewritten as it grows, and the
//! master playlist listing that rendition. Every other video rendition joins
//! the master once all its segments are done (a player switching to a
//! rendition that is still far behind would stall). A rendition whose
//! segments are all done gets its final `VOD` playlist. When the last task
//! is done the finished package ([`crate::vod`]) is written at the same URLs,
//! with the MPD and the report. Nothing here is needed for the final
//! package: a packager that restarts just writes the current state again.

use std::collections::HashMap;

use tessera_core::wire::{RenditionSpec, SegmentDone};

use crate::error::PackagerError;
use crate::hls::{event_playlist, iframe_playlist, iframe_playlist_uri, master_playlist, media_playlist};
use crate::job::JobAssembly;
use crate::rendition::Rendition;

/// One file to write, relative to the job's output prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// `master.m3u8`, `h264-360p/index.m3u8`, `h264-360p/init.mp4`.
    pub key: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What an update writes: first each rendition's init segment and
/// playlist, then the master playlist, so nothing listed is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// The files, in the order to write them.
    pub writes: Vec<Write>,
    /// The renditions the master lists, when this update writes it.
    pub master: Option<Vec<String>>,
}

/// What has been written of one job so far.
#[derive(Debug, Clone, Default)]
pub struct Progressive {
    /// Segments listed per rendition (0..n), and whether its playlist is final.
    listed: HashMap<String, (u32, bool)>,
    /// Video renditions the master lists.
    master: Vec<String>,
    /// The thumbnail track is written.
    thumbnails: bool,
    /// Each rendition's unbroken run of done segments from 0, as far as seen
    /// (runs only grow, so each event looks at the new segments only).
    runs: HashMap<String, u32>,
}

/// A rendition's first `run` segments.
fn leading_run(job: &JobAssembly, spec: &RenditionSpec, run: u32) -> Result<Rendition, PackagerError> {
    let segments: Vec<SegmentDone> = job.done_segments(&spec.name()).into_iter().take(run as usize).collect();
    Rendition::new(spec.clone(), segments)
}

impl Progressive {
    /// Nothing written yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The unbroken run of `name`'s done segments from 0.
    fn run(&mut self, job: &JobAssembly, name: &str) -> u32 {
        let known = self.runs.get(name).copied().unwrap_or(0);
        let run = job.done_run(name, known);
        self.runs.insert(name.to_string(), run);
        run
    }

    /// What to write now that `job` has moved on (nothing for a job without
    /// a first rendition, or before the first rendition and the audio each
    /// have a segment). `init` builds a rendition's init segment. Only what
    /// changed is built: a segment event costs a look at that segment, plus
    /// the playlists it changes.
    pub fn update(
        &mut self,
        job: &JobAssembly,
        init: impl Fn(&Rendition) -> Result<Vec<u8>, PackagerError>,
    ) -> Result<Update, PackagerError> {
        let Some(plan) = job.plan() else { return Ok(Update::default()) };
        let Some(first) = plan.first.clone() else { return Ok(Update::default()) };
        let mut update = Update::default();
        // The thumbnail track as soon as every sprite is there (with the poster), not at the end.
        if let Some(spec) = plan.renditions.iter().find(|r| matches!(r, RenditionSpec::Thumbnails(_))) {
            if !self.thumbnails && self.run(job, &spec.name()) == plan.segments {
                let rendition = leading_run(job, spec, plan.segments)?;
                let track = crate::thumbnails::webvtt(&rendition, plan.source.duration_secs);
                update.writes.push(Write { key: crate::thumbnails::TRACK.into(), bytes: track.into_bytes() });
                self.thumbnails = true;
            }
        }
        // (spec, segments listable, complete) of the renditions that can be listed now.
        let mut playable: Vec<(&RenditionSpec, u32, bool)> = Vec::new();
        for spec in plan.renditions.iter().filter(|r| r.is_media()) {
            let run = self.run(job, &spec.name());
            let complete = run == plan.segments;
            let early = spec.name() == first || matches!(spec, RenditionSpec::Audio { .. });
            if run > 0 && (complete || early) {
                playable.push((spec, run, complete));
            }
        }
        let listed = |name: &str| playable.iter().any(|(s, ..)| s.name() == name);
        let audio_ready =
            plan.renditions.iter().filter(|r| matches!(r, RenditionSpec::Audio { .. })).all(|r| listed(&r.name()));
        if !listed(&first) || !audio_ready {
            return Ok(update);
        }
        for &(spec, run, complete) in &playable {
            let name = spec.name();
            let before = self.listed.get(&name).copied();
            if before == Some((run, complete)) {
                continue;
            }
            let rendition = leading_run(job, spec, run)?;
            if before.is_none() {
                update.writes.push(Write { key: format!("{name}/init.mp4"), bytes: init(&rendition)? });
            }
            let text =
                if complete { media_playlist(&rendition, &Default::default()) } else { event_playlist(&rendition) };
            update.writes.push(Write { key: format!("{name}/index.m3u8"), bytes: text.into_bytes() });
            if let Some(iframes) = iframe_playlist(&rendition, complete) {
                update.writes.push(Write { key: iframe_playlist_uri(&rendition), bytes: iframes.into_bytes() });
            }
            self.listed.insert(name, (run, complete));
        }
        let is_video = |spec: &RenditionSpec| matches!(spec, RenditionSpec::Video { .. });
        let names: Vec<String> = playable.iter().filter(|(s, ..)| is_video(s)).map(|(s, ..)| s.name()).collect();
        if names != self.master {
            let renditions: Vec<(bool, Rendition)> = playable
                .iter()
                .map(|&(spec, run, _)| Ok((is_video(spec), leading_run(job, spec, run)?)))
                .collect::<Result<_, PackagerError>>()?;
            let videos: Vec<&Rendition> = renditions.iter().filter(|(v, _)| *v).map(|(_, r)| r).collect();
            let audios: Vec<&Rendition> = renditions.iter().filter(|(v, _)| !*v).map(|(_, r)| r).collect();
            let master = master_playlist(&videos, &audios, &[]);
            update.writes.push(Write { key: "master.m3u8".into(), bytes: master.into_bytes() });
            self.master = names;
            let mut all: Vec<String> = self.master.clone();
            all.extend(audios.iter().map(|a| a.name()));
            update.master = Some(all);
        }
        Ok(update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::wire::{AudioTrack, JobEventKind, JobPlan, SourceInfo, TrackConfig};
    use tessera_core::Rung;
    use tessera_media::VideoCodec;

    fn plan() -> JobPlan {
        JobPlan {
            segments: 3,
            renditions: vec![
                RenditionSpec::Video { rung: Rung::new(VideoCodec::H264, 720, 2500) },
                RenditionSpec::Video { rung: Rung::new(VideoCodec::H264, 360, 700) },
                RenditionSpec::Audio { bitrate_kbps: 128, priming: 1024, track: AudioTrack::default() },
            ],
            source: SourceInfo { width: 1280, height: 720, frame_rate: 30.0, duration_secs: 12.0, frames: 360 },
            output_prefix: String::new(),
            first: Some("h264-360p".into()),
            submitted_at_ms: Some(0),
            subtitles: Vec::new(),
        }
    }

    fn done(rendition: &str, seq: u32) -> JobEventKind {
        let audio = rendition.starts_with("aac");
        JobEventKind::SegmentDone(SegmentDone {
            key: format!("{rendition}/{seq:06}.m4s"),
            start: u64::from(seq) * 4000,
            duration: 4000,
            timescale: 1000,
            bytes: 100_000,
            frames: if audio { 188 } else { 120 },
            width: if audio { 0 } else { 640 },
            height: if audio { 0 } else { 360 },
            codec_string: if audio { "mp4a.40.2" } else { "avc1.64001E" }.into(),
            config: TrackConfig::Aac { asc: vec![0x11, 0x90], channels: 2 },
            ..SegmentDone::new(rendition, seq)
        })
    }

    fn keys(update: &Update) -> Vec<&str> {
        update.writes.iter().map(|w| w.key.as_str()).collect()
    }

    fn text<'a>(update: &'a Update, key: &str) -> &'a str {
        let write = update.writes.iter().find(|w| w.key == key).unwrap();
        std::str::from_utf8(&write.bytes).unwrap()
    }

    #[test]
    fn the_first_rendition_plays_from_its_first_segment_and_the_master_gains_variants() {
        let mut job = JobAssembly::new();
        let mut progressive = Progressive::new();
        let init = |_: &Rendition| Ok(b"init".to_vec());
        job.apply(&JobEventKind::Planned(plan()));
        // The 720p rung's segment alone publishes nothing, nor the first rendition without audio.
        job.apply(&done("h264-720p", 0));
        job.apply(&done("h264-360p", 1));
        assert_eq!(progressive.update(&job, init).unwrap(), Update::default());
        job.apply(&done("h264-360p", 0));
        assert_eq!(progressive.update(&job, init).unwrap(), Update::default(), "no audio yet");
        job.apply(&done("aac-128k", 0));
        let update = progressive.update(&job, init).unwrap();
        assert_eq!(
            keys(&update),
            ["h264-360p/init.mp4", "h264-360p/index.m3u8", "aac-128k/init.mp4", "aac-128k/index.m3u8", "master.m3u8"]
        );
        let video = text(&update, "h264-360p/index.m3u8");
        assert!(video.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !video.contains("#EXT-X-ENDLIST"), "{video}");
        assert_eq!(video.matches(".m4s").count(), 2, "segments 0 and 1: {video}");
        let master = text(&update, "master.m3u8");
        assert!(master.contains("h264-360p/index.m3u8") && !master.contains("h264-720p"), "{master}");
        assert!(master.contains("TYPE=AUDIO") && master.contains("aac-128k/index.m3u8"), "{master}");
        assert_eq!(update.master, Some(vec!["h264-360p".to_string(), "aac-128k".to_string()]));
        // Nothing new: nothing written.
        assert_eq!(progressive.update(&job, init).unwrap(), Update::default());
        // The first rendition completes: its final VOD playlist; the master is unchanged.
        job.apply(&done("h264-360p", 2));
        let update = progressive.update(&job, init).unwrap();
        assert_eq!(keys(&update), ["h264-360p/index.m3u8"]);
        let video = text(&update, "h264-360p/index.m3u8");
        assert!(video.contains("#EXT-X-PLAYLIST-TYPE:VOD") && video.contains("#EXT-X-ENDLIST"), "{video}");
        // The 720p rung joins the master only when complete.
        job.apply(&done("h264-720p", 1));
        assert!(keys(&progressive.update(&job, init).unwrap()).is_empty());
        job.apply(&done("h264-720p", 2));
        let update = progressive.update(&job, init).unwrap();
        assert_eq!(keys(&update), ["h264-720p/init.mp4", "h264-720p/index.m3u8", "master.m3u8"]);
        let master = text(&update, "master.m3u8");
        assert!(master.find("h264-720p").unwrap() < master.find("h264-360p").unwrap(), "highest first: {master}");
    }

    #[test]
    fn a_job_without_a_first_rendition_is_packaged_at_the_end_only() {
        let mut job = JobAssembly::new();
        job.apply(&JobEventKind::Planned(JobPlan { first: None, ..plan() }));
        for seq in 0..3 {
            job.apply(&done("h264-360p", seq));
            job.apply(&done("aac-128k", seq));
        }
        assert_eq!(Progressive::new().update(&job, |_| Ok(Vec::new())).unwrap(), Update::default());
    }
}
