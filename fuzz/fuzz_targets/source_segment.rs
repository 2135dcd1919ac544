//! A source segment as a worker reads it from the store: parsing it (the
//! JSON header, codec parameters, packet table) may fail but never panic or
//! allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_media::source_segment::SourceSegment;

fuzz_target!(|data: &[u8]| {
    if let Ok(segment) = SourceSegment::parse(data) {
        let _ = segment.video().count() + segment.audio().count();
    }
});
