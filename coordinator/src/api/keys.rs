//! The store keys clients may name: sources (an upload id or a URL inside
//! the coordinator's store) and output prefixes.

use tessera_core::wire::{upload_key, validate_id};

use super::error::ApiError;
use super::jobs::SourceRef;
use super::ApiState;

/// A store key from a client: relative, no empty, `.` or `..` parts, safe characters only.
pub(crate) fn check_key(what: &'static str, code: &'static str, key: &str) -> Result<(), ApiError> {
    let safe_chars = key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'));
    let safe_parts = !key.is_empty() && key.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if safe_chars && safe_parts && key.len() <= 512 {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            code,
            format!("{what} '{key}' must be a relative path of A-Z a-z 0-9 - _ . / without empty, '.' or '..' parts"),
        ))
    }
}

/// The store key of the requested source.
pub(crate) fn source_key(api: &ApiState, source: &SourceRef) -> Result<String, ApiError> {
    match (&source.upload_id, &source.url) {
        (Some(upload), None) => {
            validate_id("upload id", upload).map_err(|e| ApiError::bad_request("invalid_source", e.to_string()))?;
            Ok(upload_key(upload))
        }
        (None, Some(url)) => {
            let base = api.store.describe().trim_end_matches('/');
            let key = url.strip_prefix(base).and_then(|rest| rest.strip_prefix('/')).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_source",
                    format!("source url '{url}' is not inside this coordinator's store ({base}/...)"),
                )
            })?;
            check_key("source key", "invalid_source", key)?;
            Ok(key.to_string())
        }
        _ => Err(ApiError::bad_request("invalid_source", "source needs exactly one of upload_id and url")),
    }
}
