//! CMAF header (init segment): ftyp and a moov with one trak per track and
//! an mvex announcing that samples come in fragments.

use mp4_atom::{
    Audio, Av01, Avc1, Colr, Dinf, Dref, Edts, Elst, ElstEntry, Encode, Esds, FourCC, Ftyp, Hdlr, Mdhd, Mdia, Minf,
    Moov, Mp4a, Mvex, Mvhd, Smhd, Stbl, Stsd, Tkhd, Trak, Trex, Url, Visual, Vmhd,
};

use super::mux_error;
use crate::aac::AacConfig;
use crate::encode::DecoderConfig;
use crate::error::{MediaError, Result};

/// One track of an init segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitTrack {
    /// Track id (fragments refer to it).
    pub track_id: u32,
    /// Media timescale.
    pub timescale: u32,
    /// Video width (0 for audio).
    pub width: u32,
    /// Video height (0 for audio).
    pub height: u32,
    /// Codec and configuration (its sample entry).
    pub config: DecoderConfig,
    /// Media time at which presentation starts: an edit list that skips
    /// encoder priming (AAC's first 1024 or 2112 samples); 0 writes none.
    pub media_start: u64,
}

fn visual(width: u32, height: u32) -> Result<Visual> {
    let w =
        u16::try_from(width).map_err(|_| MediaError::Geometry(format!("width {width} does not fit a sample entry")))?;
    let h = u16::try_from(height)
        .map_err(|_| MediaError::Geometry(format!("height {height} does not fit a sample entry")))?;
    Ok(Visual {
        data_reference_index: 1,
        width: w,
        height: h,
        horizresolution: 72.into(),
        vertresolution: 72.into(),
        frame_count: 1,
        compressor: "".into(),
        depth: 24,
    })
}

fn esds(track_id: u32, aac: &AacConfig) -> Esds {
    Esds {
        es_desc: mp4_atom::esds::EsDescriptor {
            es_id: u16::try_from(track_id).unwrap_or(1),
            depends_on_es_id: None,
            url: None,
            ocr_es_id: None,
            stream_priority: 0,
            dec_config: mp4_atom::esds::DecoderConfig {
                object_type_indication: 0x40,
                stream_type: 5,
                dec_specific: Some(mp4_atom::esds::DecoderSpecific {
                    profile: aac.object_type,
                    freq_index: aac.freq_index(),
                    chan_conf: u8::try_from(aac.channels).unwrap_or(0),
                    raw: aac.asc.clone(),
                }),
                ..Default::default()
            },
            sl_config: mp4_atom::esds::SLConfig {},
        },
    }
}

/// What every video rendition is, as the encoders also signal it in the SPS
/// VUI and the AV1 sequence header: BT.709 primaries, transfer and matrix,
/// limited range.
const BT709: Colr =
    Colr::Nclx { colour_primaries: 1, transfer_characteristics: 1, matrix_coefficients: 1, full_range_flag: false };

fn trak(spec: &InitTrack) -> Result<Trak> {
    let is_video = !matches!(spec.config, DecoderConfig::Aac(_));
    let codec: mp4_atom::Codec = match &spec.config {
        DecoderConfig::Avc(config) => Avc1 {
            visual: visual(spec.width, spec.height)?,
            avcc: config.to_avcc()?,
            btrt: None,
            colr: Some(BT709),
            pasp: None,
            taic: None,
            fiel: None,
            spatial: None,
        }
        .into(),
        DecoderConfig::Av1(config) => Av01 {
            visual: visual(spec.width, spec.height)?,
            av1c: config.to_av1c(),
            btrt: None,
            ccst: None,
            colr: Some(BT709),
            pasp: None,
            taic: None,
            spatial: None,
        }
        .into(),
        DecoderConfig::Aac(aac) => Mp4a {
            audio: Audio {
                data_reference_index: 1,
                channel_count: aac.channels,
                sample_size: 16,
                // The 16.16 field cannot hold rates above 65535 Hz; the esds carries the true rate.
                sample_rate: u16::try_from(aac.sample_rate).unwrap_or(0).into(),
            },
            esds: esds(spec.track_id, aac),
            btrt: None,
            taic: None,
        }
        .into(),
    };
    Ok(Trak {
        tkhd: Tkhd {
            track_id: spec.track_id,
            enabled: true,
            in_movie: true,
            alternate_group: u16::from(!is_video),
            volume: if is_video { 0.into() } else { 1.into() },
            width: u16::try_from(spec.width).unwrap_or(0).into(),
            height: u16::try_from(spec.height).unwrap_or(0).into(),
            ..Default::default()
        },
        // segment_duration 0: the edit runs to the end of the (fragmented) media.
        edts: (spec.media_start > 0).then(|| Edts {
            elst: Some(Elst {
                entries: vec![ElstEntry {
                    segment_duration: 0,
                    media_time: Some(spec.media_start),
                    media_rate: 1.into(),
                }],
            }),
        }),
        mdia: Mdia {
            mdhd: Mdhd { timescale: spec.timescale, language: "und".into(), ..Default::default() },
            hdlr: Hdlr {
                handler: if is_video { b"vide".into() } else { b"soun".into() },
                name: if is_video { "Tessera video".into() } else { "Tessera audio".into() },
            },
            minf: Minf {
                vmhd: is_video.then(Vmhd::default),
                smhd: (!is_video).then(Smhd::default),
                dinf: Dinf { dref: Dref { entries: vec![Url { location: String::new() }.into()] } },
                stbl: Stbl { stsd: Stsd { codecs: vec![codec] }, stco: Some(Default::default()), ..Default::default() },
                ..Default::default()
            },
        },
        ..Default::default()
    })
}

/// Serializes an init segment for these tracks.
pub fn init_segment(tracks: &[InitTrack]) -> Result<Vec<u8>> {
    if tracks.is_empty() {
        return Err(MediaError::Mux { kind: "moov", reason: "an init segment needs at least one track".into() });
    }
    let mut brands: Vec<FourCC> = vec![b"iso6".into(), b"cmfc".into(), b"mp41".into()];
    for t in tracks {
        match t.config {
            DecoderConfig::Avc(_) => brands.push(b"avc1".into()),
            DecoderConfig::Av1(_) => brands.push(b"av01".into()),
            DecoderConfig::Aac(_) => {}
        }
    }
    let ftyp = Ftyp { major_brand: b"iso6".into(), minor_version: 0, compatible_brands: brands };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: 1000,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: tracks.iter().map(|t| t.track_id).max().unwrap_or(0) + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: None,
            trex: tracks
                .iter()
                .map(|t| Trex { track_id: t.track_id, default_sample_description_index: 1, ..Default::default() })
                .collect(),
        }),
        trak: tracks.iter().map(trak).collect::<Result<_>>()?,
        ..Default::default()
    };
    let mut out = Vec::new();
    ftyp.encode(&mut out).map_err(|e| mux_error("ftyp", e))?;
    moov.encode(&mut out).map_err(|e| mux_error("moov", e))?;
    Ok(out)
}
