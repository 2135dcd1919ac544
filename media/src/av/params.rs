//! Codec parameters as plain, serialisable data: what a decoder needs to
//! start on a stream (codec, extradata, picture or sample format, size),
//! copied out of libavformat's `AVCodecParameters` at ingest and back into a
//! fresh `AVCodecParameters` on a worker.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;
use serde::{Deserialize, Serialize};

use crate::error::{MediaError, Result};

/// The decoder-relevant fields of `AVCodecParameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodecParams {
    /// libavcodec's codec name (`h264`, `hevc`, `prores`, `aac`, ...).
    pub codec: String,
    /// Container tag (fourcc), for decoders that read it.
    pub codec_tag: u32,
    /// Out-of-band configuration (avcC, hvcC, av1C, AudioSpecificConfig, ...), base64.
    #[serde(with = "b64")]
    pub extradata: Vec<u8>,
    /// Pixel or sample format (libavutil's number; -1 unknown).
    pub format: i32,
    /// Bits per coded sample (raw and PCM formats).
    pub bits_per_coded_sample: i32,
    /// Bits per raw sample.
    pub bits_per_raw_sample: i32,
    /// Codec profile (-99 unknown).
    pub profile: i32,
    /// Codec level (-99 unknown).
    pub level: i32,
    /// Coded width.
    pub width: i32,
    /// Coded height.
    pub height: i32,
    /// Sample aspect ratio (0/1 unknown).
    pub sample_aspect_ratio: (i32, i32),
    /// Audio sampling rate.
    pub sample_rate: i32,
    /// Audio channels.
    pub channels: i32,
    /// Audio block alignment.
    pub block_align: i32,
    /// Audio frame size.
    pub frame_size: i32,
}

/// Serde for bytes as base64 strings.
pub(crate) mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes bytes as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Reads base64 into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

impl CodecParams {
    /// Copies the fields out of a stream's parameters.
    pub fn from_parameters(parameters: &ffmpeg::codec::Parameters) -> Self {
        // SAFETY: the pointer is valid for the lifetime of `parameters`, and
        // extradata holds `extradata_size` bytes when it is not null.
        unsafe {
            let p = &*parameters.as_ptr();
            let name = std::ffi::CStr::from_ptr(ffi::avcodec_get_name(p.codec_id)).to_string_lossy().into_owned();
            let extradata = super::copy_extradata(p.extradata, p.extradata_size);
            Self {
                codec: name,
                codec_tag: p.codec_tag,
                extradata,
                format: p.format,
                bits_per_coded_sample: p.bits_per_coded_sample,
                bits_per_raw_sample: p.bits_per_raw_sample,
                profile: p.profile,
                level: p.level,
                width: p.width,
                height: p.height,
                sample_aspect_ratio: (p.sample_aspect_ratio.num, p.sample_aspect_ratio.den),
                sample_rate: p.sample_rate,
                channels: p.ch_layout.nb_channels,
                block_align: p.block_align,
                frame_size: p.frame_size,
            }
        }
    }

    /// H.264 with an avcC record (length-prefixed NAL units in packets).
    pub fn h264(avcc: Vec<u8>, width: u32, height: u32) -> Self {
        Self::video("h264", avcc, width, height)
    }

    /// Video in libavcodec's codec `codec` with its MP4 configuration record
    /// (avcC, hvcC, av1C) as extradata; 0x0 when the size is not known yet.
    pub fn video(codec: &str, record: Vec<u8>, width: u32, height: u32) -> Self {
        Self {
            codec: codec.into(),
            codec_tag: 0,
            extradata: record,
            format: -1,
            bits_per_coded_sample: 0,
            bits_per_raw_sample: 0,
            profile: -99,
            level: -99,
            width: i32::try_from(width).unwrap_or(0),
            height: i32::try_from(height).unwrap_or(0),
            sample_aspect_ratio: (0, 1),
            sample_rate: 0,
            channels: 0,
            block_align: 0,
            frame_size: 0,
        }
    }

    /// Builds an `AVCodecParameters` with these fields.
    pub fn to_parameters(&self) -> Result<ffmpeg::codec::Parameters> {
        let name = std::ffi::CString::new(self.codec.as_str())
            .map_err(|_| MediaError::Unsupported(format!("codec name {:?} has a NUL byte", self.codec)))?;
        let mut parameters = ffmpeg::codec::Parameters::new();
        // SAFETY: `parameters` owns a freshly allocated AVCodecParameters; the
        // descriptor is a static table entry; extradata is allocated with
        // av_mallocz (padding included) and then owned by the parameters.
        unsafe {
            let descriptor = ffi::avcodec_descriptor_get_by_name(name.as_ptr());
            if descriptor.is_null() {
                return Err(MediaError::UnsupportedCodec { kind: "source", codec: self.codec.clone() });
            }
            let p = &mut *parameters.as_mut_ptr();
            p.codec_type = (*descriptor).type_;
            p.codec_id = (*descriptor).id;
            p.codec_tag = self.codec_tag;
            p.format = self.format;
            p.bits_per_coded_sample = self.bits_per_coded_sample;
            p.bits_per_raw_sample = self.bits_per_raw_sample;
            p.profile = self.profile;
            p.level = self.level;
            p.width = self.width;
            p.height = self.height;
            p.sample_aspect_ratio =
                ffi::AVRational { num: self.sample_aspect_ratio.0, den: self.sample_aspect_ratio.1 };
            p.sample_rate = self.sample_rate;
            p.block_align = self.block_align;
            p.frame_size = self.frame_size;
            if self.channels > 0 {
                ffi::av_channel_layout_default(&mut p.ch_layout, self.channels);
            }
            if !self.extradata.is_empty() {
                let size = self.extradata.len();
                let padded = size + ffi::AV_INPUT_BUFFER_PADDING_SIZE as usize;
                let buffer = ffi::av_mallocz(padded) as *mut u8;
                if buffer.is_null() {
                    return Err(MediaError::Unsupported("out of memory for codec extradata".into()));
                }
                std::ptr::copy_nonoverlapping(self.extradata.as_ptr(), buffer, size);
                p.extradata = buffer;
                p.extradata_size = size as i32;
            }
        }
        Ok(parameters)
    }
}
