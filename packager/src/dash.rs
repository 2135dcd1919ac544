//! The DASH MPD (ISO/IEC 23009-1, live profile addressing) written with
//! dash-mpd-core: one AdaptationSet per video codec and one for audio, each
//! Representation with a SegmentTemplate and SegmentTimeline over the same
//! fragments the HLS playlists list. Static for a finished job; dynamic,
//! over the sliding window, while a broadcast is live; low-latency (chunked
//! CMAF: `availabilityTimeOffset`, a latency target) for a low-latency channel.

use std::time::Duration;

use dash_mpd_core::{
    Accessibility, AdaptationSet, BaseURL, EssentialProperty, Label, Latency, Period, Representation, Role,
    SegmentTemplate, SegmentTimeline, ServiceDescription, SupplementalProperty, UTCTiming, MPD, S,
};

use crate::rendition::Rendition;
use tessera_core::wire::SubtitleTrack;

/// The timeline of a rendition: runs of equal durations, with an explicit
/// start wherever a segment does not begin where the previous one ended.
fn timeline(rendition: &Rendition) -> SegmentTimeline {
    let mut entries: Vec<S> = Vec::new();
    let mut expected: Option<u64> = None;
    for s in &rendition.segments {
        let contiguous = expected == Some(s.start);
        match entries.last_mut() {
            Some(last) if contiguous && last.d == s.duration => last.r = Some(last.r.unwrap_or(0) + 1),
            _ => entries.push(S { t: (!contiguous).then_some(s.start), d: s.duration, ..S::default() }),
        }
        expected = Some(s.start + s.duration);
    }
    SegmentTimeline { segments: entries }
}

fn representation(rendition: &Rendition, live: Option<&LiveTiming>) -> Representation {
    let first_seq = rendition.segments.first().map_or(0, |s| u64::from(s.seq));
    let (width, height) = rendition.size();
    let template = SegmentTemplate {
        media: Some("$RepresentationID$/$Number%06d$.m4s".into()),
        initialization: Some("$RepresentationID$/init.mp4".into()),
        startNumber: Some(first_seq),
        timescale: Some(u64::from(rendition.timescale())),
        SegmentTimeline: Some(timeline(rendition)),
        availabilityTimeOffset: live.and_then(|l| l.part_secs.map(|part| (l.target_secs - part).max(0.0))),
        availabilityTimeComplete: live.and_then(|l| l.part_secs.map(|_| false)),
        ..SegmentTemplate::default()
    };
    let mut r = Representation {
        id: Some(rendition.name()),
        bandwidth: Some(rendition.peak_bps()),
        codecs: Some(rendition.codec_string().to_string()),
        mimeType: Some(if rendition.is_audio() { "audio/mp4" } else { "video/mp4" }.into()),
        startWithSAP: Some(1),
        SegmentTemplate: Some(template),
        ..Representation::default()
    };
    if rendition.is_audio() {
        r.audioSamplingRate = Some(rendition.timescale().to_string());
    } else {
        r.width = Some(u64::from(width));
        r.height = Some(u64::from(height));
        r.frameRate = Some(match rendition.frame_rate_fraction() {
            (num, 1) => num.to_string(),
            (num, den) => format!("{num}/{den}"),
        });
    }
    r
}

/// The trick-mode Representation of an H.264 rendition (DASH-IF IOP 3.2.9):
/// its keyframe-only fragments (`{seq}.key.m4s`, one keyframe lasting the
/// whole segment) on the same timeline, after the same init segment.
fn trick_representation(rendition: &Rendition) -> Representation {
    let name = rendition.name();
    let frames: u64 = rendition.segments.iter().map(|s| u64::from(s.frames)).sum();
    let mut main = representation(rendition, None);
    let template = main.SegmentTemplate.take();
    Representation {
        id: Some(format!("{name}-trick")),
        bandwidth: Some(rendition.key_frame_fragment_peak_bps()),
        frameRate: None,
        // One picture per segment: played at the segments' frames per picture, it keeps normal speed's frame rate.
        maxPlayoutRate: Some((frames as f64 / rendition.segments.len().max(1) as f64).round().max(1.0)),
        codingDependency: Some(false),
        // The rendition's own template, naming its keyframe fragments and its init segment.
        SegmentTemplate: template.map(|template| SegmentTemplate {
            media: Some(format!("{name}/$Number%06d$.key.m4s")),
            initialization: Some(format!("{name}/init.mp4")),
            ..template
        }),
        ..main
    }
}

/// A video AdaptationSet of one codec family's renditions `members`, holding `representations`.
fn video_set(id: usize, members: &[&Rendition], representations: Vec<Representation>) -> AdaptationSet {
    AdaptationSet {
        id: Some(id.to_string()),
        contentType: Some("video".into()),
        mimeType: Some("video/mp4".into()),
        segmentAlignment: Some(true),
        startWithSAP: Some(1),
        maxWidth: members.iter().map(|v| u64::from(v.size().0)).max(),
        maxHeight: members.iter().map(|v| u64::from(v.size().1)).max(),
        representations,
        supplemental_property: bt709_properties(),
        ..AdaptationSet::default()
    }
}

/// A live broadcast's timing, for the dynamic MPD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveTiming {
    /// Wall-clock time of presentation time 0 (ms since the Unix epoch).
    pub started_at_ms: u64,
    /// When this MPD is published (ms since the Unix epoch).
    pub published_at_ms: u64,
    /// Target segment duration: how often clients should reload.
    pub target_secs: f64,
    /// Segments in the window.
    pub window: u32,
    /// Low latency: the part length (s). Segments are then announced
    /// available a segment minus a part early, and the origin sends a
    /// segment still being encoded as its parts arrive (chunked CMAF).
    pub part_secs: Option<f64>,
}

fn utc(ms: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).ok()?)
}

/// The static MPD of a finished job.
pub fn static_mpd(videos: &[&Rendition], audios: &[&Rendition], texts: &[SubtitleTrack]) -> String {
    mpd(videos, audios, texts, None)
}

/// The dynamic MPD of a live broadcast over the window (the renditions hold
/// the window's segments).
pub fn dynamic_mpd(videos: &[&Rendition], audios: &[&Rendition], live: LiveTiming) -> String {
    mpd(videos, audios, &[], Some(live))
}

fn mpd(videos: &[&Rendition], audios: &[&Rendition], texts: &[SubtitleTrack], live: Option<LiveTiming>) -> String {
    let mut adaptations: Vec<AdaptationSet> = Vec::new();
    // One video set per codec family (avc1, av01), in the order they first appear.
    let mut codecs: Vec<&str> = Vec::new();
    for v in videos {
        let family = v.codec_string().split('.').next().unwrap_or_default();
        if !codecs.contains(&family) {
            codecs.push(family);
        }
    }
    let video_sets: Vec<Vec<&Rendition>> = codecs
        .iter()
        .map(|family| videos.iter().copied().filter(|v| v.codec_string().split('.').next() == Some(family)).collect())
        .collect();
    for (i, members) in video_sets.iter().enumerate() {
        let representations = members.iter().map(|v| representation(v, live.as_ref())).collect();
        adaptations.push(AdaptationSet {
            // SCTE 214: CEA-608 channel 1 in the video's SEI, when every rendition of the set carries it.
            Accessibility: members
                .iter()
                .all(|v| v.closed_captions())
                .then(|| Accessibility {
                    schemeIdUri: "urn:scte:dash:cc:cea-608:2015".into(),
                    value: Some("CC1".into()),
                    ..Accessibility::default()
                })
                .into_iter()
                .collect(),
            ..video_set(i, members, representations)
        });
    }
    // An AdaptationSet per audio track, with its language, name and role (main: the default one).
    for (i, a) in audios.iter().enumerate() {
        let track = a.audio_track();
        let main = track.is_none_or(|t| t.default);
        adaptations.push(AdaptationSet {
            id: Some((codecs.len() + i).to_string()),
            contentType: Some("audio".into()),
            mimeType: Some("audio/mp4".into()),
            lang: track.and_then(|t| t.language.clone()),
            segmentAlignment: Some(true),
            startWithSAP: Some(1),
            Role: vec![Role {
                schemeIdUri: "urn:mpeg:dash:role:2011".into(),
                value: Some(if main { "main" } else { "alternate" }.into()),
                ..Role::default()
            }],
            Label: track
                .and_then(|t| t.label.clone())
                .map(|content| Label { content, ..Label::default() })
                .into_iter()
                .collect(),
            representations: vec![representation(a, live.as_ref())],
            ..AdaptationSet::default()
        });
    }
    // A text AdaptationSet per subtitle rendition: its whole WebVTT file.
    for (i, t) in texts.iter().enumerate() {
        let role = if t.closed_captions { "caption" } else { "subtitle" };
        adaptations.push(AdaptationSet {
            id: Some((codecs.len() + audios.len() + i).to_string()),
            contentType: Some("text".into()),
            mimeType: Some("text/vtt".into()),
            lang: t.language.clone(),
            Role: vec![Role {
                schemeIdUri: "urn:mpeg:dash:role:2011".into(),
                value: Some(role.into()),
                ..Role::default()
            }],
            Label: vec![Label { content: t.label.clone(), ..Label::default() }],
            representations: vec![Representation {
                id: Some(format!("subtitles-{}", t.name)),
                bandwidth: Some(256),
                mimeType: Some("text/vtt".into()),
                BaseURL: vec![BaseURL { base: crate::subtitles::vtt_key(t), ..BaseURL::default() }],
                ..Representation::default()
            }],
            ..AdaptationSet::default()
        });
    }
    // On demand, a trick-mode AdaptationSet beside each video set whose every
    // rendition has keyframe-only fragments. Players that do not know the
    // scheme must ignore the set (it is an EssentialProperty).
    if live.is_none() {
        for (i, members) in video_sets.iter().enumerate() {
            if !members.iter().all(|v| v.has_key_frame_fragments()) {
                continue;
            }
            let representations = members.iter().map(|v| trick_representation(v)).collect();
            adaptations.push(AdaptationSet {
                essential_property: vec![EssentialProperty {
                    schemeIdUri: "http://dashif.org/guidelines/trickmode".into(),
                    value: Some(i.to_string()),
                    ..EssentialProperty::default()
                }],
                ..video_set(adaptations.len(), members, representations)
            });
        }
    }
    let all = || videos.iter().chain(audios);
    let duration = all().map(|r| r.duration_secs()).fold(0.0, f64::max);
    let longest = all().map(|r| r.longest_segment_secs()).fold(0.0, f64::max);
    let mut mpd = MPD {
        xmlns: Some("urn:mpeg:dash:schema:mpd:2011".into()),
        profiles: Some("urn:mpeg:dash:profile:isoff-live:2011".into()),
        mpdtype: Some("static".into()),
        mediaPresentationDuration: Some(Duration::from_secs_f64(duration)),
        minBufferTime: Some(Duration::from_secs(2)),
        maxSegmentDuration: Some(Duration::from_secs_f64(longest)),
        periods: vec![Period { id: Some("0".into()), start: Some(Duration::ZERO), adaptations, ..Period::default() }],
        ..MPD::default()
    };
    if let Some(live) = live {
        let target = longest.max(live.target_secs);
        mpd.mpdtype = Some("dynamic".into());
        mpd.mediaPresentationDuration = None;
        mpd.availabilityStartTime = utc(live.started_at_ms);
        mpd.publishTime = utc(live.published_at_ms);
        mpd.minimumUpdatePeriod = Some(Duration::from_secs_f64(live.target_secs));
        mpd.timeShiftBufferDepth = Some(Duration::from_secs_f64(target * f64::from(live.window)));
        mpd.suggestedPresentationDelay = Some(Duration::from_secs_f64(target * 3.0));
        if let Some(part) = live.part_secs {
            // Low latency: players aim a few parts behind the live edge.
            let latency_ms = ((target + 2.0 * part) * 1000.0).round();
            mpd.suggestedPresentationDelay = Some(Duration::from_secs_f64(latency_ms / 1000.0));
            mpd.ServiceDescription = vec![ServiceDescription {
                id: Some("0".into()),
                Latency: vec![Latency { target: Some(latency_ms), ..Latency::default() }],
                ..ServiceDescription::default()
            }];
        }
        // The clock players align to: the time this MPD was written (otherwise
        // dash.js asks public time servers, which fails offline).
        mpd.UTCTiming = utc(live.published_at_ms)
            .map(|t| UTCTiming {
                schemeIdUri: "urn:mpeg:dash:utc:direct:2014".into(),
                value: Some(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                ..UTCTiming::default()
            })
            .into_iter()
            .collect();
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{mpd}\n")
}

/// The colour of every video rendition as DASH-IF's CICP properties: BT.709
/// primaries, transfer and matrix (what the SPS VUI, the AV1 sequence header
/// and the `colr` box say).
fn bt709_properties() -> Vec<SupplementalProperty> {
    ["ColourPrimaries", "TransferCharacteristics", "MatrixCoefficients"]
        .into_iter()
        .map(|name| SupplementalProperty {
            schemeIdUri: format!("urn:mpeg:mpegB:cicp:{name}"),
            value: Some("1".into()),
            ..SupplementalProperty::default()
        })
        .collect()
}
