//! `tessera probe`: what Tessera sees in a file, in words.

use std::fmt;
use std::path::Path;

use tessera_media::av::{MediaInfo, SourceFile};
use tessera_media::{Limits, MediaError};

/// A description of an accepted input.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// What the file holds.
    pub info: MediaInfo,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Opens and describes an input, or returns why it is rejected.
pub fn probe(path: &Path, limits: &Limits) -> Result<ProbeReport, MediaError> {
    let source = SourceFile::open(path, limits)?;
    Ok(ProbeReport { info: source.info, bytes: std::fs::metadata(path)?.len() })
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.info;
        let v = &s.video;
        writeln!(f, "container: {} ({}), {} bytes", s.container_long, s.container, self.bytes)?;
        writeln!(f, "duration:  {:.3} s", v.duration_secs)?;
        let profile = v.profile.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
        writeln!(
            f,
            "video:     stream {}: {}{profile}, {}x{} {} ({}-bit), {:.3} fps, {} frames",
            v.index, v.codec, v.width, v.height, v.pixel_format, v.bit_depth, v.frame_rate, v.packets
        )?;
        let mut shown = format!("{}x{}", v.display_width, v.display_height);
        if v.rotation != 0 {
            shown.push_str(&format!(", rotated {} degrees", v.rotation));
        }
        if v.sample_aspect_ratio.0 != v.sample_aspect_ratio.1 {
            shown.push_str(&format!(", pixels {}:{}", v.sample_aspect_ratio.0, v.sample_aspect_ratio.1));
        }
        if v.interlaced {
            shown.push_str(", interlaced (deinterlaced at the frame rate)");
        }
        writeln!(f, "shown as:  {shown}")?;
        let c = &v.color;
        let hdr = v.hdr_transfer().map(|_| ", HDR: tone-mapped to SDR BT.709").unwrap_or_default();
        writeln!(
            f,
            "colour:    primaries {}, transfer {}, matrix {}, range {}{hdr}",
            c.primaries, c.transfer, c.matrix, c.range
        )?;
        writeln!(f, "keyframes: {} (longest interval {:.2} s)", v.keyframes, v.max_keyframe_interval_secs)?;
        if s.audio.is_empty() {
            writeln!(f, "audio:     none")?;
        }
        for a in &s.audio {
            let profile = a.profile.as_deref().map(|p| format!(" {p}")).unwrap_or_default();
            let kept = if a.codec == "aac" && a.profile.as_deref() == Some("LC") {
                "copied when it starts with the video, has no gaps and covers it, else encoded to AAC-LC"
            } else {
                "encoded to AAC-LC"
            };
            let mut tags: Vec<String> = a.language.iter().chain(&a.title).cloned().collect();
            if a.default {
                tags.push("default".into());
            }
            let tags = if tags.is_empty() { String::new() } else { format!(" [{}]", tags.join(", ")) };
            writeln!(
                f,
                "audio:     stream {}{tags}: {}{profile}, {} Hz, {} ch ({kept})",
                a.index, a.codec, a.sample_rate, a.channels
            )?;
        }
        Ok(())
    }
}
