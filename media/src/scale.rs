//! Rung sizes: how large each rendition of a picture is. The scaling itself
//! runs in libavfilter's `scale` ([`crate::av::video`]), with the
//! normalisation it belongs with.

/// Output size for a rung of `target_height` lines from a `src_w` x `src_h`
/// source: aspect ratio kept, both dimensions even, never larger than the source.
pub fn rung_dimensions(src_w: u32, src_h: u32, target_height: u32) -> (u32, u32) {
    let h = target_height.min(src_h).max(2) & !1;
    let w = if src_h == 0 {
        0
    } else {
        let exact = f64::from(src_w) * f64::from(h) / f64::from(src_h);
        ((exact / 2.0).round() as u32 * 2).max(2)
    };
    (w, h)
}

/// The output size of a rung of nominal height `short_side` for a picture
/// shown at `display` size: the short side gets the rung's height (a 720x1280
/// portrait source's 360p rung is 360x640), aspect kept, both even, never
/// larger than the source.
pub fn rung_size(display: (u32, u32), short_side: u32) -> (u32, u32) {
    let (w, h) = display;
    if h > w {
        let (long, short) = rung_dimensions(h, w, short_side);
        (short, long)
    } else {
        rung_dimensions(w, h, short_side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_keep_aspect_and_even_sizes() {
        assert_eq!(rung_dimensions(1920, 1080, 720), (1280, 720));
        assert_eq!(rung_dimensions(1920, 1080, 360), (640, 360));
        assert_eq!(rung_dimensions(1920, 1080, 240), (426, 240));
        assert_eq!(rung_dimensions(320, 180, 720), (320, 180));
        assert_eq!(rung_dimensions(1080, 1920, 360), (202, 360));
    }

    #[test]
    fn portrait_ladders_key_on_the_short_side() {
        assert_eq!(rung_size((720, 1280), 720), (720, 1280));
        assert_eq!(rung_size((720, 1280), 360), (360, 640));
        assert_eq!(rung_size((1280, 720), 360), (640, 360));
        assert_eq!(rung_size((360, 640), 720), (360, 640));
    }
}
