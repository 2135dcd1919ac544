//! Encoding settings shared by jobs and live channels: codecs and ladder,
//! speed, worker class, output prefix; each checked with a clear 400.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tessera_core::wire::WorkerClass;
use tessera_core::Ladder;
use utoipa::ToSchema;

use super::ApiConfig;
use tessera_media::{BuildEncoders, SpeedPreset, VideoCodec};

use super::error::ApiError;
use super::keys::check_key;
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
        // Read inside a flattened part, whose errors carry no path: name the field here.
        deserializer.deserialize_any(Choice).map_err(|e| de::Error::custom(format!("ladder: {e}")))
    }
}

/// The encoding part of a job or channel request (flattened into both).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EncodingRequest {
    /// Video codecs of the default ladder, or a filter on `ladder` (default `["h264"]`).
    #[serde(default, deserialize_with = "codecs")]
    pub codecs: Option<Vec<String>>,
    /// The ladder (`{"rungs": [{"codec", "height", "bitrate_kbps", "encoder", "crf", "speed"}]}`),
    /// or, for a job, `"auto"`: the default ladder fitted to the upload by a
    /// probe (per-title); default: the coordinator's default or the built-in ladder.
    #[schema(value_type = Option<Object>)]
    pub ladder: Option<LadderRequest>,
    /// Encoder speed for rungs that name none: veryfast (default), fast, medium, slow.
    #[serde(default, deserialize_with = "speed")]
    #[schema(value_type = Option<String>)]
    pub speed: Option<SpeedPreset>,
    /// Worker class: cpu (default) or gpu.
    #[serde(default, deserialize_with = "class")]
    #[schema(value_type = Option<String>)]
    pub class: Option<WorkerClass>,
    /// Output prefix in the store (default `outputs/{id}` for a job, `live/{id}` for a channel).
    pub output_prefix: Option<String>,
}

// A flattened struct's fields are read from a buffered map, so an error
// cannot say where it is (serde_path_to_error sees no path): these name their field.
fn codecs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map_err(|e| de::Error::custom(format!("codecs: {e}")))
}

fn speed<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SpeedPreset>, D::Error> {
    named(d, "speed")
}

fn class<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WorkerClass>, D::Error> {
    named(d, "class")
}

/// An optional value read from its name with `FromStr`; an error names `field`.
fn named<'de, D, T>(d: D, field: &str) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err: fmt::Display>,
{
    Option::<String>::deserialize(d)?
        .map(|name| name.parse().map_err(|e| de::Error::custom(format!("{field}: {e}"))))
        .transpose()
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ladder, limited to the requested codecs.
    pub ladder: Ladder,
    /// Encoder speed for rungs that name none.
    pub speed: SpeedPreset,
    /// Worker class.
    pub class: WorkerClass,
    /// Output prefix (no trailing slash).
    pub output_prefix: String,
}

impl Settings {
    /// Checks the request's settings (`codecs` default `["h264"]`, the
    /// coordinator's default ladder or else the built-in one, `veryfast`,
    /// `cpu`, `default_prefix`).
    pub fn parse(config: &ApiConfig, request: &EncodingRequest, default_prefix: &str) -> Result<Self, ApiError> {
        let codecs = match request.codecs.as_deref() {
            Some(names) => names.iter().map(|c| c.parse::<VideoCodec>()).collect::<Result<Vec<_>, _>>(),
            None => Ok(vec![VideoCodec::H264]),
        }
        .map_err(|e| ApiError::bad_request("invalid_ladder", e))?;
        let fallback = || config.default_ladder.clone().unwrap_or_else(|| Ladder::default_for(&codecs));
        let mut ladder = match &request.ladder {
            Some(LadderRequest::Rungs(ladder)) => ladder.clone(),
            Some(LadderRequest::Auto) => Ladder { per_title: true, ..fallback() },
            None => fallback(),
        };
        ladder.rungs.retain(|r| codecs.contains(&r.codec));
        ladder.validate().map_err(|e| ApiError::bad_request("invalid_ladder", e.to_string()))?;
        // Named now, so a job never fails later on an encoder this build lacks,
        // and every worker runs the same one.
        ladder.resolve_encoders(&BuildEncoders).map_err(|e| ApiError::bad_request("invalid_ladder", e.to_string()))?;
        if ladder.rungs.is_empty() {
            return Err(ApiError::bad_request("invalid_ladder", "the ladder has no rung for the requested codecs"));
        }
        let speed = request.speed.unwrap_or_default();
        let class = request.class.unwrap_or(WorkerClass::Cpu);
        let output_prefix =
            request.output_prefix.as_deref().unwrap_or(default_prefix).trim_end_matches('/').to_string();
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

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    #[test]
    fn the_shared_encoding_part_is_documented_for_jobs_and_channels() {
        let doc = serde_json::to_value(super::super::ApiDoc::openapi()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for field in ["codecs", "ladder", "speed", "class", "output_prefix"] {
            assert!(schemas["EncodingRequest"]["properties"][field].is_object(), "{field}: {schemas}");
        }
        for request in ["CreateJob", "CreateChannel"] {
            assert!(
                schemas[request].to_string().contains("#/components/schemas/EncodingRequest"),
                "{request}: {schemas}"
            );
        }
    }
}
