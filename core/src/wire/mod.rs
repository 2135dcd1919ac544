//! The wire contract: tasks and job events, serialized as JSON with a version
//! field, and the names of the subjects, streams and consumers they travel on.
//! Decoding tolerates unknown fields so services can be upgraded one by one.
//!
//! - `names.rs`: streams, subjects, consumers, buckets and keys;
//! - `task.rs`: tasks ([`Task`], [`RenditionSpec`]) and the queues they are routed to;
//! - `submission.rs`: a job as submitted ([`JobSubmission`]);
//! - `event.rs`: job events ([`JobEvent`], [`JobEventKind`]);
//! - `track.rs`: a rendition's decoder configuration on the wire ([`TrackConfig`]).

mod event;
mod names;
mod submission;
mod task;
mod track;

pub use event::*;
pub use names::*;
pub use submission::*;
pub use task::*;
pub use track::*;

use crate::error::CoreError;

/// Version written into every task and event.
pub const WIRE_VERSION: u32 = 1;

/// Base64 for byte fields in JSON.
mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        STANDARD.decode(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    /// A list of byte strings.
    pub mod list {
        use super::*;

        pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(items.iter().map(|b| STANDARD.encode(b)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
            Vec::<String>::deserialize(d)?
                .into_iter()
                .map(|s| STANDARD.decode(s).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// Checks a job id or similar token: 1-64 of `[A-Za-z0-9_-]`, so it is safe
/// in subjects and storage keys.
pub fn validate_id(what: &str, id: &str) -> Result<(), CoreError> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CoreError::InvalidValue(format!("{what} '{id}' must be 1-64 characters of A-Z a-z 0-9 - _")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::Rung;
    use tessera_codec::{DecoderConfig, SpeedPreset, VideoCodec};

    fn rung() -> Rung {
        Rung {
            codec: VideoCodec::Av1,
            height: 360,
            bitrate_kbps: 450,
            encoder: Some(tessera_codec::EncoderKind::SvtAv1),
            crf: Some(35),
            max_frame_rate: None,
            speed: Some(SpeedPreset::Fast),
        }
    }

    #[test]
    fn each_priority_has_its_own_subject_and_consumer() {
        let (class, codec) = (WorkerClass::Cpu, TaskCodec::H264);
        assert_eq!(task_subject(class, codec, TaskPriority::Rest), "tessera.tasks.cpu.h264");
        assert_eq!(task_subject(class, codec, TaskPriority::First), "tessera.tasks.cpu.h264.first");
        assert_eq!(task_consumer(class, codec, TaskPriority::Rest), "worker-cpu-h264");
        assert_eq!(task_consumer(WorkerClass::Gpu, TaskCodec::Aac, TaskPriority::First), "worker-gpu-aac-first");
        // Work-queue consumers must not overlap.
        let (first, rest) =
            (task_subject(class, codec, TaskPriority::First), task_subject(class, codec, TaskPriority::Rest));
        assert!(!crate::bus::subject::overlap(&first, &rest));
    }

    #[test]
    fn task_round_trips_and_tolerates_unknown_fields() {
        let task = Task {
            version: WIRE_VERSION,
            job: "j1".into(),
            seq: 7,
            rendition: RenditionSpec::Video { rung: rung() },
            source_key: source_segment_key("j1", 7),
            output_key: output_key("outputs/j1", "av1-360p/000007.m4s"),
            frame_rate: 30.0,
            published_at_ms: None,
            part_secs: None,
            report_captions: false,
            key_frame_fragment: true,
        };
        assert_eq!(task.id(), "j1/av1-360p/7");
        assert_eq!(key_frame_key(&task.output_key), "outputs/j1/av1-360p/000007.key.m4s");
        assert_eq!(task.source_key, "sources/j1/000007.seg");
        let json = serde_json::to_string(&task).unwrap();
        assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["added_later"] = serde_json::json!(1);
        assert_eq!(serde_json::from_value::<Task>(value).unwrap(), task);
        let audio = RenditionSpec::Audio { bitrate_kbps: 128, priming: 1024, track: AudioTrack::default() };
        assert_eq!((audio.name(), audio.codec()), ("aac-128k".to_string(), TaskCodec::Aac));
    }

    #[test]
    fn events_round_trip_with_version_and_type() {
        let done = JobEvent::new(
            "j1",
            JobEventKind::SegmentDone(SegmentDone {
                rendition: "aac-128k".into(),
                seq: 0,
                key: "aac-128k/000000.m4s".into(),
                start: 0,
                duration: 96000,
                timescale: 48000,
                bytes: 32000,
                key_frame_bytes: None,
                key_frame_fragment_bytes: None,
                closed_captions: false,
                caption_frames: Vec::new(),
                frames: 94,
                width: 0,
                height: 0,
                codec_string: "mp4a.40.2".into(),
                config: TrackConfig::Aac { asc: vec![0x11, 0x90], channels: 2 },
                psnr: None,
                psnr_y: None,
                ssim: None,
                cpu_secs: 0.01,
                queued_at_ms: Some(0),
                started_at_ms: Some(1),
                finished_at_ms: Some(2),
            }),
        );
        let json = serde_json::to_string(&done).unwrap();
        assert!(json.contains(r#""type":"segment_done""#) && json.contains(r#""asc":"EZA=""#), "{json}");
        assert_eq!(serde_json::from_str::<JobEvent>(&json).unwrap(), done);
        assert_eq!(done.message_id().unwrap(), "j1/aac-128k/0/done");
        let newer = r#"{"version":2,"job":"j1","type":"from_the_future","x":1}"#;
        assert_eq!(serde_json::from_str::<JobEvent>(newer).unwrap().kind, JobEventKind::Unknown);
    }

    #[test]
    fn track_config_rebuilds_media_config() {
        let av1 = TrackConfig::Av1 { profile: 0, level_idx: 4, high_tier: false, sequence_header: vec![0x0a, 1, 2] };
        match av1.decoder_config().unwrap() {
            DecoderConfig::Av1(c) => assert_eq!(c.level_idx, 4),
            other => panic!("{other:?}"),
        }
        let bad = TrackConfig::Avc { parameter_sets: vec![vec![0x67, 1]] };
        assert!(bad.decoder_config().is_err());
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("job id", "job_1-a").is_ok());
        for bad in ["", "../x", "a/b", "a.b", "a b", &"x".repeat(65)] {
            assert!(validate_id("job id", bad).is_err(), "{bad}");
        }
    }
}
