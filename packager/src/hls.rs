//! HLS playlists (RFC 8216, version 7, fMP4 segments) written with m3u8-rs:
//! a media playlist per rendition and the multivariant playlist.

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, Map, MasterPlaylist, MediaPlaylist, MediaPlaylistType, MediaSegment,
    QuotedOrUnquoted, Resolution, VariantStream,
};

use std::collections::{BTreeSet, HashMap};

use crate::rendition::Rendition;

/// Audio group id every variant references.
const AUDIO_GROUP: &str = "audio";

fn to_string(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A rendition's VOD media playlist; URIs are relative to its folder.
/// Segments in `discontinuities` (a live publisher's reconnects) are marked.
pub fn media_playlist(rendition: &Rendition, discontinuities: &BTreeSet<u32>) -> String {
    let segments = rendition
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| MediaSegment {
            uri: format!("{:06}.m4s", s.seq),
            duration: rendition.seconds(s) as f32,
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
        end_list: true,
        playlist_type: Some(MediaPlaylistType::Vod),
        independent_segments: true,
        ..MediaPlaylist::default()
    };
    to_string(|w| playlist.write_to(w))
}

/// A rendition's live media playlist: the window's segments (the rendition
/// holds only those), numbered from the first, each with its wall-clock
/// time; no end tag. `target_secs` is the broadcast's target duration;
/// segments in `discontinuities` follow a publisher's reconnect.
pub fn live_media_playlist(
    rendition: &Rendition,
    started_at_ms: u64,
    target_secs: f64,
    discontinuities: &BTreeSet<u32>,
) -> String {
    let first_seq = rendition.segments.first().map_or(0, |s| s.seq);
    let timescale = f64::from(rendition.timescale().max(1));
    let segments = rendition
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at_ms = started_at_ms as f64 + s.start as f64 * 1000.0 / timescale;
            let time = chrono::DateTime::from_timestamp_millis(at_ms as i64).map(|t| t.fixed_offset());
            MediaSegment {
                uri: format!("{:06}.m4s", s.seq),
                duration: rendition.seconds(s) as f32,
                map: (i == 0).then(|| Map { uri: "init.mp4".into(), ..Map::default() }),
                program_date_time: time,
                discontinuity: discontinuities.contains(&s.seq),
                ..MediaSegment::empty()
            }
        })
        .collect();
    let playlist = MediaPlaylist {
        version: Some(7),
        // The caller's target never shrinks during a broadcast.
        target_duration: rendition.longest_segment_secs().max(target_secs).ceil() as u64,
        media_sequence: u64::from(first_seq),
        discontinuity_sequence: discontinuities.range(..first_seq).count() as u64,
        segments,
        end_list: false,
        independent_segments: true,
        ..MediaPlaylist::default()
    };
    to_string(|w| playlist.write_to(w))
}

/// The multivariant playlist: one variant per video rendition (highest
/// first), each referencing the audio group when there is audio.
pub fn master_playlist(videos: &[&Rendition], audio: Option<&Rendition>) -> String {
    let alternatives = audio
        .map(|a| {
            vec![AlternativeMedia {
                media_type: AlternativeMediaType::Audio,
                uri: Some(format!("{}/index.m3u8", a.name())),
                group_id: AUDIO_GROUP.into(),
                name: a.name(),
                default: true,
                autoselect: true,
                ..AlternativeMedia::default()
            }]
        })
        .unwrap_or_default();
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
                // Every rendition is SDR BT.709 (HDR sources are tone-mapped), as its init segment says.
                other_attributes: Some(HashMap::from([(
                    "VIDEO-RANGE".to_string(),
                    QuotedOrUnquoted::Unquoted("SDR".to_string()),
                )])),
                ..VariantStream::default()
            }
        })
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
