//! Subtitle files sent with a job (WebVTT or SRT): read, checked and kept
//! as WebVTT subtitle renditions of the job's plan, named by language.

use tessera_core::wire::SubtitleTrack;
use tessera_media::captions::{parse_subtitles, webvtt};

use crate::error::CoordinatorError;

/// The largest subtitle file a job takes (a feature film's is ~100 kB).
pub const MAX_SUBTITLE_BYTES: usize = 1 << 20;

/// A subtitle file as the next of a job's subtitle renditions: `language` a
/// BCP 47 tag (`en`, `pt-BR`), `label` the name players show (default: the tag).
pub fn subtitle_track(
    bytes: &[u8],
    language: &str,
    label: Option<&str>,
    earlier: &[SubtitleTrack],
) -> Result<SubtitleTrack, CoordinatorError> {
    let language = language.trim();
    if language.is_empty() || language.len() > 35 || !language.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(CoordinatorError::BadSource(format!(
            "subtitle language '{language}' is not a tag such as en or pt-BR"
        )));
    }
    if bytes.len() > MAX_SUBTITLE_BYTES {
        return Err(CoordinatorError::BadSource(format!(
            "the {language} subtitles are {} bytes, more than the {MAX_SUBTITLE_BYTES} taken",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CoordinatorError::BadSource(format!("the {language} subtitles are not UTF-8 text: {e}")))?;
    let cues = parse_subtitles(text)
        .map_err(|e| CoordinatorError::BadSource(format!("the {language} subtitles are not usable: {e}")))?;
    let same = earlier.iter().filter(|t| t.language.as_deref() == Some(language)).count();
    let name = if same == 0 {
        language.to_ascii_lowercase()
    } else {
        format!("{}-{}", language.to_ascii_lowercase(), same + 1)
    };
    Ok(SubtitleTrack {
        name,
        language: Some(language.to_string()),
        label: label.map_or_else(|| language.to_string(), str::to_string),
        default: false,
        closed_captions: false,
        webvtt: webvtt(&cues),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_becomes_a_named_webvtt_track_and_bad_files_are_named() {
        let srt = b"1\n00:00:00,500 --> 00:00:01,500\nBonjour\n";
        let first = subtitle_track(srt, "fr", Some("Francais"), &[]).unwrap();
        assert_eq!((first.name.as_str(), first.label.as_str()), ("fr", "Francais"));
        assert_eq!(first.webvtt, "WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nBonjour\n");
        let second = subtitle_track(srt, "fr", None, std::slice::from_ref(&first)).unwrap();
        assert_eq!(second.name, "fr-2");
        let bad = subtitle_track(b"1\n00:00:00,500 -> x\n", "de", None, &[]).unwrap_err().to_string();
        assert!(bad.contains("the de subtitles are not usable") && bad.contains("no cue in the file"), "{bad}");
        assert!(subtitle_track(srt, "../x", None, &[]).is_err());
    }
}
