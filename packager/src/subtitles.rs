//! Subtitle renditions: the subtitle files sent with the job, and the
//! source's CEA-608 closed captions as text (decoded from the `cc_data` the
//! first rendition's tasks reported, in one pass since 608 keeps state
//! across segments), so players that cannot read captions from the video
//! (AV1 rungs, browsers) show them too. Each is one WebVTT file under
//! `subtitles/`, listed by a one-segment HLS playlist and a DASH text
//! AdaptationSet.

use tessera_core::wire::{JobPlan, SubtitleTrack};
use tessera_media::captions::{decode_cea608, webvtt};

use crate::error::PackagerError;
use crate::job::Finished;

/// HLS group id of the subtitle renditions.
pub const GROUP: &str = "subs";

/// The WebVTT file of a track, relative to the output prefix.
pub fn vtt_key(track: &SubtitleTrack) -> String {
    format!("subtitles/{}.vtt", track.name)
}

/// The HLS playlist of a track, relative to the output prefix.
pub fn playlist_key(track: &SubtitleTrack) -> String {
    format!("subtitles/{}.m3u8", track.name)
}

/// The job's subtitle renditions: its subtitle files, then the source's
/// closed captions (channel 1) when the first rendition carried any.
pub fn text_tracks(plan: &JobPlan, finished: &Finished) -> Result<Vec<SubtitleTrack>, PackagerError> {
    let mut tracks = plan.subtitles.clone();
    let first = plan.first.as_deref().and_then(|name| finished.videos.iter().find(|v| v.name() == name));
    if let Some(video) = first {
        let frames: Vec<(i64, &[u8])> =
            video.segments.iter().flat_map(|s| s.caption_frames.iter().map(|f| (f.pts, f.data.as_slice()))).collect();
        if !frames.is_empty() {
            let end_ms = (video.duration_secs() * 1000.0).round() as u64;
            let cues = decode_cea608(&frames, video.timescale(), end_ms)?;
            if !cues.is_empty() {
                tracks.push(SubtitleTrack {
                    name: "cc1".into(),
                    language: None,
                    label: "CC1".into(),
                    default: false,
                    closed_captions: true,
                    webvtt: webvtt(&cues),
                });
            }
        }
    }
    Ok(tracks)
}

/// A track's HLS media playlist: its whole WebVTT file as one segment.
pub fn playlist(track: &SubtitleTrack, duration_secs: f64) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXTINF:{duration_secs:.3},\n{}.vtt\n#EXT-X-ENDLIST\n",
        duration_secs.ceil().max(1.0) as u64,
        track.name
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_is_one_webvtt_segment() {
        let track = SubtitleTrack {
            name: "en".into(),
            language: Some("en".into()),
            label: "English".into(),
            default: false,
            closed_captions: false,
            webvtt: "WEBVTT\n".into(),
        };
        assert_eq!(vtt_key(&track), "subtitles/en.vtt");
        let text = playlist(&track, 12.34);
        assert!(text.contains("#EXT-X-TARGETDURATION:13\n") && text.contains("#EXTINF:12.340,\nen.vtt\n"), "{text}");
    }
}
