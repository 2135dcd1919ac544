//! `tessera probe`: what Tessera sees in a file, in words.

use std::fmt;
use std::io::{Read, Seek};

use tessera_media::h264::config::profile_name;
use tessera_media::{Limits, MediaError, Mp4Source};

/// A description of an accepted input.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The demuxed source.
    pub source: Mp4Source,
}

/// Opens and describes an input, or returns why it is rejected.
pub fn probe<R: Read + Seek>(reader: &mut R, limits: &Limits) -> Result<ProbeReport, MediaError> {
    Ok(ProbeReport { source: Mp4Source::open(reader, limits)? })
}

fn summarize_gops(gops: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &g in gops {
        match runs.last_mut() {
            Some((len, n)) if *len == g => *n += 1,
            _ => runs.push((g, 1)),
        }
    }
    runs.iter()
        .map(|(len, n)| if *n > 1 { format!("{len} x{n}") } else { len.to_string() })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.source;
        let v = &s.video;
        writeln!(f, "container: MP4 (brand {}), {} bytes", s.brand.as_deref().unwrap_or("none"), s.file_len)?;
        writeln!(f, "duration:  {:.3} s", s.duration_secs())?;
        let (profile, codec) = match v.config.sps_info() {
            Ok(info) => (profile_name(info.profile_idc).to_string(), v.config.codec_string().unwrap_or_default()),
            Err(_) => ("unknown".into(), String::new()),
        };
        writeln!(
            f,
            "video:     track {}: H.264 {profile} ({codec}), {}x{}, {:.3} fps, {} frames",
            v.track_id,
            v.width,
            v.height,
            v.frame_rate(),
            v.samples.len()
        )?;
        writeln!(f, "gops:      {} (frames per GOP)", summarize_gops(&v.gop_lengths()))?;
        match &s.audio {
            Some(a) => writeln!(
                f,
                "audio:     track {}: AAC ({}), {} Hz, {} ch, {} frames",
                a.track_id,
                a.config.codec_string(),
                a.config.sample_rate,
                a.config.channels,
                a.samples.len()
            )?,
            None => writeln!(f, "audio:     none")?,
        }
        for w in &s.warnings {
            writeln!(f, "warning:   {w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::summarize_gops;

    #[test]
    fn gop_summary_groups_runs() {
        assert_eq!(summarize_gops(&[15, 15, 15, 7]), "15 x3, 7");
        assert_eq!(summarize_gops(&[39, 51]), "39, 51");
    }
}
