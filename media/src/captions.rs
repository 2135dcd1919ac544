//! Captions as text: CEA-608 closed captions (the A/53 `cc_data` the
//! pictures carried) decoded to timed cues by libavcodec's 608 decoder, and
//! subtitle files users send with a job (WebVTT or SRT) read into the same
//! cues; both written out as WebVTT for players' subtitle tracks.
//!
//! 608 keeps state across pictures (a caption loaded in one segment shows in
//! the next), so a whole rendition's captions are decoded in one pass.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use ffmpeg_next::packet::Ref;

use crate::av::init;
use crate::error::{MediaError, Result};

/// One timed caption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// Start, ms from the presentation's time 0.
    pub start_ms: u64,
    /// End, ms.
    pub end_ms: u64,
    /// Its text, lines separated by `\n` (WebVTT-escaped when written).
    pub text: String,
}

/// The pictures' closed captions, in presentation order: (time in
/// `timescale` ticks, the picture's `cc_data` triplets).
pub type CaptionFrames<'a> = &'a [(i64, &'a [u8])];

fn cc_error(e: impl std::fmt::Display) -> MediaError {
    MediaError::Decode { index: 0, pts: 0, reason: format!("CEA-608 captions: {e}") }
}

/// Decodes CEA-608 channel 1 of `frames` to cues (pop-on captions from when
/// they show to when they leave, roll-up lines as they scroll); a caption
/// still showing at `end_ms` ends there.
pub fn decode_cea608(frames: CaptionFrames<'_>, timescale: u32, end_ms: u64) -> Result<Vec<Cue>> {
    init();
    let codec = ffmpeg::decoder::find(ffmpeg::codec::Id::EIA_608).ok_or_else(|| cc_error("no 608 decoder"))?;
    let mut context = ffmpeg::codec::Context::new_with_codec(codec);
    // SAFETY: a plain field of an unopened context; without it the decoder gives no times.
    unsafe {
        (*context.as_mut_ptr()).pkt_timebase = ffi::AVRational { num: 1, den: timescale.max(1) as i32 };
    }
    let mut decoder = context.decoder().subtitle().map_err(cc_error)?;
    let mut cues = Vec::new();
    let take = |packet: &ffmpeg::Packet, decoder: &mut ffmpeg::decoder::Subtitle, cues: &mut Vec<Cue>| -> Result<()> {
        // SAFETY: a zeroed AVSubtitle filled by the decoder and freed here once read.
        unsafe {
            let mut sub: ffi::AVSubtitle = std::mem::zeroed();
            let mut got = 0;
            let status =
                ffi::avcodec_decode_subtitle2(decoder.as_mut_ptr(), &mut sub, &mut got, packet.as_ptr().cast_mut());
            if status < 0 {
                return Err(cc_error(ffmpeg::Error::from(status)));
            }
            if got != 0 {
                let start_ms = u64::try_from(sub.pts / 1000).unwrap_or(0) + u64::from(sub.start_display_time);
                let end_ms = start_ms + u64::from(sub.end_display_time);
                let rects: &[*mut ffi::AVSubtitleRect] = if sub.rects.is_null() {
                    &[]
                } else {
                    std::slice::from_raw_parts(sub.rects, sub.num_rects as usize)
                };
                let text: Vec<String> = rects
                    .iter()
                    .filter(|r| !r.is_null() && !(***r).ass.is_null())
                    .map(|r| ass_to_text(&std::ffi::CStr::from_ptr((**r).ass).to_string_lossy()))
                    .filter(|t| !t.is_empty())
                    .collect();
                if !text.is_empty() {
                    cues.push(Cue { start_ms, end_ms, text: text.join("\n") });
                }
                ffi::avsubtitle_free(&mut sub);
            }
        }
        Ok(())
    };
    for (pts, data) in frames {
        if data.is_empty() {
            continue;
        }
        let mut packet = ffmpeg::Packet::copy(data);
        packet.set_pts(Some(*pts));
        packet.set_dts(Some(*pts));
        take(&packet, &mut decoder, &mut cues)?;
    }
    // The caption still showing at the end comes out with the flush, timed
    // with the gap before it rather than to the end: it lasts to the end.
    let before_flush = cues.len();
    take(&ffmpeg::Packet::empty(), &mut decoder, &mut cues)?;
    for cue in cues.iter_mut().skip(before_flush) {
        cue.end_ms = end_ms;
    }
    for cue in &mut cues {
        cue.end_ms = cue.end_ms.min(end_ms.max(cue.start_ms + 1));
    }
    Ok(cues)
}

/// The text of an ASS event line (`readorder,layer,style,...,TEXT`): style
/// overrides dropped, `\N` a new line, `\h` a space.
fn ass_to_text(event: &str) -> String {
    let text = event.splitn(9, ',').nth(8).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut in_override = false;
    for c in text.chars() {
        match c {
            '{' => in_override = true,
            '}' => in_override = false,
            c if !in_override => out.push(c),
            _ => {}
        }
    }
    let text = out.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    text.replace("\\N", "\n")
        .replace("\\h", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn timestamp(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// The cues as a WebVTT file (their text is WebVTT cue text already).
pub fn webvtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues {
        out.push_str(&format!("\n{} --> {}\n{}\n", timestamp(cue.start_ms), timestamp(cue.end_ms), cue.text));
    }
    out
}

/// A timestamp `[hh:]mm:ss.mmm` (WebVTT) or `hh:mm:ss,mmm` (SRT), in ms.
fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.trim().replace(',', ".");
    let (clock, millis) = text.split_once('.')?;
    if millis.len() != 3 {
        return None;
    }
    let parts: Vec<u64> = clock.split(':').map(|p| p.parse().ok()).collect::<Option<Vec<u64>>>()?;
    let (h, m, s) = match parts.as_slice() {
        [m, s] => (0, *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    if m >= 60 || s >= 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000 + millis.parse::<u64>().ok()?)
}

/// Reads a subtitle file a user sent: WebVTT (it starts `WEBVTT`) or SRT.
/// Every cue's timing is checked; what goes wrong is named with its line.
/// Written by hand: both formats are a few lines of timing syntax, and only
/// the cues' times and text are kept (WebVTT styling and regions are not).
pub fn parse_subtitles(text: &str) -> Result<Vec<Cue>> {
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let bad = |line: usize, why: &str| MediaError::Unsupported(format!("subtitles, line {line}: {why}"));
    let vtt = text.starts_with("WEBVTT");
    let mut cues = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    if vtt {
        lines.next();
    }
    while let Some((n, line)) = lines.next() {
        let Some((from, rest)) = line.split_once("-->") else {
            // Blank lines, SRT cue numbers, WebVTT cue ids and NOTE/STYLE blocks.
            continue;
        };
        let to = rest.split_whitespace().next().unwrap_or_default();
        let (Some(start_ms), Some(end_ms)) = (parse_timestamp(from), parse_timestamp(to)) else {
            return Err(bad(n + 1, &format!("'{}' is not a cue timing", line.trim())));
        };
        if end_ms < start_ms {
            return Err(bad(n + 1, "the cue ends before it starts"));
        }
        let mut body = Vec::new();
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            body.push(l.trim_end().to_string());
            lines.next();
        }
        cues.push(Cue { start_ms, end_ms, text: body.join("\n") });
    }
    if cues.is_empty() {
        return Err(MediaError::Unsupported("subtitles: no cue in the file (WebVTT or SRT expected)".into()));
    }
    Ok(cues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ass_events_become_plain_lines() {
        assert_eq!(ass_to_text("0,0,Default,,0,0,0,,{\\an7}{\\pos(38,243)}HELLO WORLD"), "HELLO WORLD");
        assert_eq!(ass_to_text("0,0,Default,,0,0,0,,{\\an7}A,B\\N{\\pos(1,2)}\\h\\hC"), "A,B\nC");
        assert_eq!(ass_to_text("0,0,Default,,0,0,0,,R&B <3"), "R&amp;B &lt;3");
    }

    #[test]
    fn srt_and_webvtt_read_into_cues() {
        let srt = "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>there</i>\r\nline two\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n";
        let cues = parse_subtitles(srt).unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!(
            (cues[0].start_ms, cues[0].end_ms, cues[0].text.as_str()),
            (1000, 2500, "Hello <i>there</i>\nline two")
        );
        let vtt = "WEBVTT\n\nNOTE made by hand\n\nintro\n00:01.000 --> 00:02.000 line:90%\nHi\n";
        assert_eq!(parse_subtitles(vtt).unwrap(), [Cue { start_ms: 1000, end_ms: 2000, text: "Hi".into() }]);
        let broken = "1\n00:00:01,000 --> soon\nHello\n";
        assert!(parse_subtitles(broken).unwrap_err().to_string().contains("line 2"));
        assert!(parse_subtitles("just text").is_err());
    }

    #[test]
    fn cues_are_written_as_webvtt() {
        let cues = [Cue { start_ms: 400, end_ms: 3_601_933, text: "<i>A</i>".into() }];
        assert_eq!(webvtt(&cues), "WEBVTT\n\n00:00:00.400 --> 01:00:01.933\n<i>A</i>\n");
    }
}
