//! Which video encoders this build can run: the built-in ones always; the
//! ones hosted in libavcodec when the FFmpeg libraries this process loaded
//! have them. An operator can take any out with `TESSERA_DISABLE_ENCODERS`
//! (e.g. `x264`, where x264's GPL does not suit the deployment).

pub use tessera_codec::{EncoderCatalog, EncoderKind, SpeedPreset};

/// This build's encoders, as [`EncoderCatalog`] asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildEncoders;

impl EncoderCatalog for BuildEncoders {
    fn available(&self, kind: EncoderKind) -> bool {
        if disabled().contains(&kind) {
            return false;
        }
        match kind.libavcodec_name() {
            None => true,
            Some(name) => crate::av::has_encoder(name),
        }
    }
}

/// The encoders `TESSERA_DISABLE_ENCODERS` (comma-separated names) takes out, read once.
fn disabled() -> &'static [EncoderKind] {
    static DISABLED: std::sync::OnceLock<Vec<EncoderKind>> = std::sync::OnceLock::new();
    DISABLED.get_or_init(|| {
        let names = std::env::var("TESSERA_DISABLE_ENCODERS").unwrap_or_default();
        names.split(',').filter_map(|n| n.trim().parse().ok()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_codec::VideoCodec;

    #[test]
    fn this_build_has_every_encoder() {
        assert!(BuildEncoders.available(EncoderKind::Openh264) && BuildEncoders.available(EncoderKind::Rav1e));
        // Debian's FFmpeg (what CI installs) has both hosted encoders.
        assert_eq!(BuildEncoders.default_for(VideoCodec::H264), EncoderKind::X264);
        assert_eq!(BuildEncoders.default_for(VideoCodec::Av1), EncoderKind::SvtAv1);
    }
}
