//! Reading a JSON request body: it must say it is JSON, and a value that
//! does not fit its field is a 400 naming the field.

use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Reads the JSON body of a `what` ("job request"). A body not sent as
/// `application/json` is a 415 (a form or text posted by a browser page is
/// refused before it is read); a bad value a 400 naming its field
/// (`speed: unknown speed preset 'turbo': ...`).
pub fn read_request<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8], what: &str) -> Result<T, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the {what} must be sent as application/json, not '{content_type}'"),
        ));
    }
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body)).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = if field == "." { inner.to_string() } else { format!("{field}: {inner}") };
        ApiError::bad_request("invalid_request", format!("the {what} is not valid: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::jobs::CreateJob;
    use crate::api::live::CreateChannel;

    fn json() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        headers
    }

    fn refusal<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (u16, String) {
        let e = read_request::<T>(&json(), body.as_bytes(), "request").unwrap_err();
        (e.status.as_u16(), e.message)
    }

    #[test]
    fn a_bad_setting_is_a_400_naming_its_field() {
        let (status, message) = refusal::<CreateJob>(r#"{"source": {"upload_id": "u"}, "speed": "turbo"}"#);
        assert_eq!(status, 400);
        assert!(message.contains("speed: unknown speed preset 'turbo'"), "{message}");
        let (_, message) = refusal::<CreateChannel>(r#"{"class": "tpu"}"#);
        assert!(message.contains("class: unknown worker class 'tpu': expected cpu or gpu"), "{message}");
        let (_, message) = refusal::<CreateJob>(r#"{"source": {"upload_id": "u"}, "segment_duration": "4"}"#);
        assert!(message.contains("segment_duration: invalid type"), "{message}");
        let (_, message) = refusal::<CreateJob>(r#"{"source": {"upload_id": "u"}, "codecs": "h264"}"#);
        assert!(message.contains("codecs: invalid type"), "{message}");
        let (_, message) = refusal::<CreateChannel>(r#"{"ladder": {"rungs": [{"codec": "h264", "heigth": 360}]}}"#);
        assert!(message.contains("ladder: unknown field `heigth`"), "{message}");
    }

    #[test]
    fn unknown_fields_are_refused_beside_the_shared_part() {
        let (status, message) = refusal::<CreateJob>(r#"{"source": {"upload_id": "u"}, "sped": "fast"}"#);
        assert_eq!(status, 400);
        assert!(message.contains("unknown field `sped`"), "{message}");
        let (_, message) = refusal::<CreateChannel>(r#"{"windw": 6}"#);
        assert!(message.contains("unknown field `windw`"), "{message}");
        let job: CreateJob =
            read_request(&json(), br#"{"source": {"upload_id": "u"}, "speed": "slow", "class": "gpu"}"#, "r").unwrap();
        assert_eq!(job.encoding.speed, Some(tessera_media::SpeedPreset::Slow));
        assert_eq!(job.encoding.class, Some(tessera_core::wire::WorkerClass::Gpu));
    }

    #[test]
    fn a_body_not_sent_as_json_is_refused_unread() {
        let e = read_request::<CreateChannel>(&HeaderMap::new(), b"{}", "channel request").unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}
