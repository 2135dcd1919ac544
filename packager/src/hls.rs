//! HLS playlists (RFC 8216, version 7, fMP4 segments) written with m3u8-rs:
//! a media playlist per rendition and the multivariant playlist.

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, Map, MasterPlaylist, MediaPlaylist, MediaPlaylistType, MediaSegment,
    QuotedOrUnquoted, Resolution, VariantStream,
};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use m3u8_rs::ExtTag;
use tessera_core::wire::{PartDone, SubtitleTrack};

use crate::rendition::Rendition;

/// Audio group id every variant references.
const AUDIO_GROUP: &str = "audio";

/// Closed-caption group id of the variants that carry the source's captions.
const CC_GROUP: &str = "cc";

fn to_string(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A rendition's VOD media playlist; URIs are relative to its folder.
/// Segments in `discontinuities` (a live publisher's reconnects) are marked.
pub fn media_playlist(rendition: &Rendition, discontinuities: &BTreeSet<u32>) -> String {
    on_demand_playlist(rendition, discontinuities, MediaPlaylistType::Vod, false)
}

/// The EVENT playlist of a rendition still being encoded: the segments done
/// so far from the first (the rendition holds only those), no end tag, so a
/// player reloads it as it grows. It becomes [`media_playlist`] at the end.
pub fn event_playlist(rendition: &Rendition) -> String {
    on_demand_playlist(rendition, &BTreeSet::new(), MediaPlaylistType::Event, false)
}

/// An H.264 rendition's I-frame playlist for trick play (fast forward,
/// scrubbing): each segment's leading keyframe as a byte range of its
/// fragment (moof, mdat header, keyframe), lasting until the next segment's.
/// `None` for other codecs, or when a segment reported no keyframe range.
/// `complete`: VOD (else EVENT, while the rendition is still encoded).
pub fn iframe_playlist(rendition: &Rendition, complete: bool) -> Option<String> {
    rendition.has_iframes().then(|| {
        let kind = if complete { MediaPlaylistType::Vod } else { MediaPlaylistType::Event };
        on_demand_playlist(rendition, &BTreeSet::new(), kind, true)
    })
}

/// The relative URI of a rendition's I-frame playlist.
pub fn iframe_playlist_uri(rendition: &Rendition) -> String {
    format!("{}/iframes.m3u8", rendition.name())
}

fn on_demand_playlist(
    rendition: &Rendition,
    discontinuities: &BTreeSet<u32>,
    kind: MediaPlaylistType,
    iframes: bool,
) -> String {
    let segments = rendition
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| MediaSegment {
            uri: format!("{:06}.m4s", s.seq),
            duration: rendition.seconds(s) as f32,
            byte_range: s
                .key_frame_bytes
                .filter(|_| iframes)
                .map(|length| m3u8_rs::ByteRange { length, offset: Some(0) }),
            map: (i == 0).then(|| Map { uri: "init.mp4".into(), ..Map::default() }),
            discontinuity: discontinuities.contains(&s.seq),
            ..MediaSegment::empty()
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(7),
        target_duration: rendition.longest_segment_secs().ceil() as u64,
        media_sequence: 0,
        segments,
        end_list: kind == MediaPlaylistType::Vod,
        playlist_type: Some(kind),
        independent_segments: true,
        i_frames_only: iframes,
        ..MediaPlaylist::default()
    };
    to_string(|w| playlist.write_to(w))
}

/// Low-Latency HLS in a live media playlist: the part target, and the
/// parts written so far of this rendition (segment -> parts in order).
#[derive(Debug, Clone, Copy)]
pub struct LowLatency<'a> {
    /// Part target in seconds.
    pub part_secs: f64,
    /// The rendition's parts.
    pub parts: &'a BTreeMap<u32, Vec<PartDone>>,
    /// The other renditions' latest listed segment and part: (name, MSN, part).
    pub reports: &'a [(String, u32, u32)],
}

/// Segments whose parts stay listed: RFC 8216bis drops parts more than
/// three target durations from the live edge.
const SEGMENTS_WITH_PARTS: usize = 3;

fn part_line(part: &PartDone) -> String {
    let independent = if part.independent { ",INDEPENDENT=YES" } else { "" };
    format!("#EXT-X-PART:DURATION={:.5},URI=\"{:06}.{}.m4s\"{independent}", part.duration_secs, part.seq, part.part)
}

/// A rendition's live media playlist: the window's segments (the rendition
/// holds only those), numbered from the first, each with its wall-clock
/// time; no end tag. `target_secs` is the broadcast's target duration;
/// segments in `discontinuities` follow a publisher's reconnect. With
/// `low_latency`, the playlist is LL-HLS (RFC 8216bis): the parts of the
/// last segments and of the one being encoded, a preload hint for the next
/// part, and server control for blocking reloads. m3u8-rs writes the
/// segments (parts go in as tags before each); it has no LL-HLS tags of its
/// own, so the header and trailing lines are added to its text here.
pub fn live_media_playlist(
    rendition: &Rendition,
    started_at_ms: u64,
    target_secs: f64,
    discontinuities: &BTreeSet<u32>,
    low_latency: Option<LowLatency<'_>>,
) -> String {
    let first_seq = rendition.segments.first().map_or(0, |s| s.seq);
    let timescale = f64::from(rendition.timescale().max(1));
    let with_parts = rendition.segments.len().saturating_sub(SEGMENTS_WITH_PARTS);
    let segments = rendition
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at_ms = started_at_ms as f64 + s.start as f64 * 1000.0 / timescale;
            let time = chrono::DateTime::from_timestamp_millis(at_ms as i64).map(|t| t.fixed_offset());
            let parts = match low_latency {
                Some(ll) if i >= with_parts => ll.parts.get(&s.seq).map(|p| p.iter().map(part_line).collect()),
                _ => None,
            };
            let unknown_tags = parts
                .unwrap_or_else(Vec::new)
                .into_iter()
                .map(|line: String| ExtTag { tag: line.trim_start_matches("#EXT-").to_string(), rest: None })
                .collect();
            MediaSegment {
                uri: format!("{:06}.m4s", s.seq),
                duration: rendition.seconds(s) as f32,
                map: (i == 0).then(|| Map { uri: "init.mp4".into(), ..Map::default() }),
                program_date_time: time,
                discontinuity: discontinuities.contains(&s.seq),
                unknown_tags,
                ..MediaSegment::empty()
            }
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(if low_latency.is_some() { 9 } else { 7 }),
        // The caller's target never shrinks during a broadcast.
        target_duration: rendition.longest_segment_secs().max(target_secs).ceil() as u64,
        media_sequence: u64::from(first_seq),
        discontinuity_sequence: discontinuities.range(..first_seq).count() as u64,
        segments,
        end_list: false,
        independent_segments: true,
        ..MediaPlaylist::default()
    };
    let text = to_string(|w| playlist.write_to(w));
    match low_latency {
        Some(ll) => with_low_latency(text, ll, rendition.segments.last().map(|s| s.seq + 1).unwrap_or(first_seq)),
        None => text,
    }
}

/// Adds LL-HLS's header (server control, part target) after the target
/// duration, and the parts of segment `open` (being encoded) with a preload
/// hint for the part after them at the end.
fn with_low_latency(text: String, ll: LowLatency<'_>, open: u32) -> String {
    let hold_back = 3.0 * ll.part_secs;
    // Delta updates may leave out what is older than six target durations (the origin writes them).
    let target: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(2);
    let header = format!(
        "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={}.0,PART-HOLD-BACK={hold_back:.3}\n\
         #EXT-X-PART-INF:PART-TARGET={:.3}\n",
        6 * target,
        ll.part_secs
    );
    let mut out = String::with_capacity(text.len() + 512);
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if line.starts_with("#EXT-X-TARGETDURATION:") {
            out.push_str(&header);
        }
    }
    let parts = ll.parts.get(&open).map(Vec::as_slice).unwrap_or_default();
    // Parts are listed in an unbroken run from the segment's first.
    let listed = parts.iter().enumerate().take_while(|(i, p)| p.part as usize == *i).count();
    for part in &parts[..listed] {
        out.push_str(&part_line(part));
        out.push('\n');
    }
    out.push_str(&format!("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{open:06}.{listed}.m4s\"\n"));
    // Where the other renditions are, so a player switching needs no extra reload.
    for (name, msn, part) in ll.reports {
        out.push_str(&format!(
            "#EXT-X-RENDITION-REPORT:URI=\"../{name}/index.m3u8\",LAST-MSN={msn},LAST-PART={part}\n"
        ));
    }
    out
}

/// The multivariant playlist: one variant per video rendition (highest
/// first), each referencing the audio group when there is audio, then an
/// `EXT-X-I-FRAME-STREAM-INF` per H.264 rendition for trick play.
pub fn master_playlist(videos: &[&Rendition], audios: &[&Rendition], texts: &[SubtitleTrack]) -> String {
    // One audio group, a member per track (language and name from the source), one of them the default.
    let mut alternatives: Vec<AlternativeMedia> = audios
        .iter()
        .map(|a| {
            let track = a.audio_track();
            AlternativeMedia {
                media_type: AlternativeMediaType::Audio,
                uri: Some(format!("{}/index.m3u8", a.name())),
                group_id: AUDIO_GROUP.into(),
                language: track.and_then(|t| t.language.clone()),
                name: track.and_then(|t| t.label.clone()).unwrap_or_else(|| a.name()),
                default: track.is_none_or(|t| t.default),
                autoselect: true,
                channels: a.channels().map(|c| c.to_string()),
                ..AlternativeMedia::default()
            }
        })
        .collect();
    // Subtitle renditions: the job's subtitle files and the captions as text.
    alternatives.extend(texts.iter().map(|t| AlternativeMedia {
        media_type: AlternativeMediaType::Subtitles,
        uri: Some(crate::subtitles::playlist_key(t)),
        group_id: crate::subtitles::GROUP.into(),
        language: t.language.clone(),
        name: t.label.clone(),
        default: t.default,
        autoselect: true,
        characteristics: t.closed_captions.then(|| {
            "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound".into()
        }),
        ..AlternativeMedia::default()
    }));
    // Variants are sized for the heaviest audio track.
    let audio = audios.iter().copied().max_by_key(|a| a.peak_bps());
    if videos.iter().any(|v| v.closed_captions()) {
        // CEA-608 channel 1, in the H.264 rungs' SEI (x264 wrote the source's cc_data there).
        alternatives.push(AlternativeMedia {
            media_type: AlternativeMediaType::ClosedCaptions,
            group_id: CC_GROUP.into(),
            name: "CC1".into(),
            instream_id: Some(m3u8_rs::InstreamId::CC(1)),
            default: true,
            autoselect: true,
            ..AlternativeMedia::default()
        });
    }
    let iframe_variants = videos.iter().filter(|v| v.has_iframes()).map(|v| {
        let (width, height) = v.size();
        VariantStream {
            is_i_frame: true,
            uri: iframe_playlist_uri(v),
            bandwidth: v.iframe_peak_bps(),
            average_bandwidth: Some(v.iframe_average_bps()),
            codecs: Some(v.codec_string().to_string()),
            resolution: Some(Resolution { width: u64::from(width), height: u64::from(height) }),
            other_attributes: Some(HashMap::from([(
                "VIDEO-RANGE".to_string(),
                QuotedOrUnquoted::Unquoted("SDR".to_string()),
            )])),
            ..VariantStream::default()
        }
    });
    let variants = videos
        .iter()
        .map(|v| {
            let (width, height) = v.size();
            let mut codecs = v.codec_string().to_string();
            if let Some(a) = audio {
                codecs = format!("{codecs},{}", a.codec_string());
            }
            VariantStream {
                uri: format!("{}/index.m3u8", v.name()),
                bandwidth: v.peak_bps() + audio.map_or(0, Rendition::peak_bps),
                average_bandwidth: Some(v.average_bps() + audio.map_or(0, Rendition::average_bps)),
                codecs: Some(codecs),
                resolution: Some(Resolution { width: u64::from(width), height: u64::from(height) }),
                frame_rate: Some(v.frame_rate()),
                audio: audio.map(|_| AUDIO_GROUP.to_string()),
                subtitles: (!texts.is_empty()).then(|| crate::subtitles::GROUP.to_string()),
                closed_captions: v
                    .closed_captions()
                    .then(|| m3u8_rs::ClosedCaptionGroupId::GroupId(CC_GROUP.to_string())),
                // Every rendition is SDR BT.709 (HDR sources are tone-mapped), as its init segment says.
                other_attributes: Some(HashMap::from([(
                    "VIDEO-RANGE".to_string(),
                    QuotedOrUnquoted::Unquoted("SDR".to_string()),
                )])),
                ..VariantStream::default()
            }
        })
        .chain(iframe_variants)
        .collect();
    let master = MasterPlaylist {
        version: Some(7),
        variants,
        independent_segments: true,
        alternatives,
        ..MasterPlaylist::default()
    };
    to_string(|w| master.write_to(w))
}
