//! An FLV tag body from an RTMP publisher (the first byte picks video or
//! audio): parsing it, and the AVC or AAC configuration in it, may fail but
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_media::flv;

fuzz_target!(|data: &[u8]| {
    let [kind, body @ ..] = data else { return };
    if kind & 1 == 0 {
        let _ = flv::parse_video(body);
    } else {
        let _ = flv::parse_audio(body);
    }
});
