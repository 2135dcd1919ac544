//! Encoding settings shared by jobs and live channels: codecs and ladder,
//! speed, worker class, output prefix; each checked with a clear 400.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tessera_core::wire::WorkerClass;
use tessera_core::Ladder;

use super::ApiConfig;
use tessera_media::{SpeedPreset, VideoCodec};

use super::error::ApiError;
use super::jobs::check_key;
use super::ownership::{check_prefix_size, OWNERS};

/// The folders default output prefixes are in (`outputs/{job}`, `live/{channel}`).
const DEFAULT_PARENTS: [&str; 2] = ["outputs", "live"];

/// A request's `ladder`: a ladder object, or `"auto"`: the default ladder
/// made per-title ([`Ladder::per_title`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LadderRequest {
    /// `"auto"`.
    Auto,
    /// `{"rungs": [...]}`.
    Rungs(Ladder),
}

impl<'de> Deserialize<'de> for LadderRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Choice;
        impl<'de> Visitor<'de> for Choice {
            type Value = LadderRequest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a ladder object {\"rungs\": [...]}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LadderRequest, E> {
                match v {
                    "auto" => Ok(LadderRequest::Auto),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
            // A map goes to the ladder's own deserializer, so its errors name the field.
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LadderRequest, A::Error> {
                Ladder::deserialize(de::value::MapAccessDeserializer::new(map)).map(LadderRequest::Rungs)
            }
        }
        deserializer.deserialize_any(Choice)
    }
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ladder, limited to the requested codecs.
    pub ladder: Ladder,
    /// Encoder speed name.
    pub speed: String,
    /// Worker class.
    pub class: WorkerClass,
    /// Output prefix (no trailing slash).
    pub output_prefix: String,
}

impl Settings {
    /// Checks the request's settings (`codecs` default `["h264"]`, the
    /// coordinator's default ladder or else the built-in one, `veryfast`, `cpu`).
    pub fn parse(
        config: &ApiConfig,
        codecs: Option<&[String]>,
        ladder: Option<&LadderRequest>,
        speed: Option<&str>,
        class: Option<&str>,
        output_prefix: &str,
    ) -> Result<Self, ApiError> {
        let codecs = match codecs {
            Some(names) => names.iter().map(|c| c.parse::<VideoCodec>()).collect::<Result<Vec<_>, _>>(),
            None => Ok(vec![VideoCodec::H264]),
        }
        .map_err(|e| ApiError::bad_request("invalid_ladder", e))?;
        let fallback = || config.default_ladder.clone().unwrap_or_else(|| Ladder::default_for(&codecs));
        let mut ladder = match ladder {
            Some(LadderRequest::Rungs(ladder)) => ladder.clone(),
            Some(LadderRequest::Auto) => Ladder { per_title: true, ..fallback() },
            None => fallback(),
        };
        ladder.rungs.retain(|r| codecs.contains(&r.codec));
        ladder.validate().map_err(|e| ApiError::bad_request("invalid_ladder", e.to_string()))?;
        // Named now, so a job never fails later on an encoder this build lacks,
        // and every worker runs the same one.
        ladder.resolve_encoders().map_err(|e| ApiError::bad_request("invalid_ladder", e.to_string()))?;
        if ladder.rungs.is_empty() {
            return Err(ApiError::bad_request("invalid_ladder", "the ladder has no rung for the requested codecs"));
        }
        let speed = speed.unwrap_or("veryfast").to_string();
        speed.parse::<SpeedPreset>().map_err(|e| ApiError::bad_request("invalid_request", e))?;
        let class = match class.unwrap_or("cpu") {
            "cpu" => WorkerClass::Cpu,
            "gpu" => WorkerClass::Gpu,
            other => {
                return Err(ApiError::bad_request("invalid_request", format!("unknown class '{other}' (cpu or gpu)")))
            }
        };
        let output_prefix = output_prefix.trim_end_matches('/').to_string();
        check_key("output_prefix", "invalid_output_prefix", &output_prefix)?;
        check_prefix_size(&output_prefix)?;
        // The folders every job and channel gets its own prefix in: claiming one
        // whole would refuse everyone else's default prefix.
        if DEFAULT_PARENTS.contains(&output_prefix.as_str()) {
            return Err(ApiError::bad_request(
                "invalid_output_prefix",
                format!(
                    "output_prefix must not be '{output_prefix}' itself: jobs and channels get their own folders in it"
                ),
            ));
        }
        if ["sources", "uploads", OWNERS].iter().any(|internal| output_prefix.split('/').next() == Some(internal)) {
            return Err(ApiError::bad_request(
                "invalid_output_prefix",
                format!(
                    "output_prefix must not be inside sources/, uploads/ or {OWNERS}/ (the coordinator's own keys)"
                ),
            ));
        }
        Ok(Self { ladder, speed, class, output_prefix })
    }
}
