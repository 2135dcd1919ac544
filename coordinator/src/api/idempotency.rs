//! Idempotent submissions: an `Idempotency-Key` claims a slot (per client:
//! the same key from two tokens names two requests) holding the job id and
//! the request's digest. The same key with the same body is the same job;
//! with another body it is a 422; a request that failed frees its slot.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_core::kv::KvError;

use super::error::ApiError;
use super::ApiState;

/// What an idempotency key remembers.
#[derive(Serialize, Deserialize)]
struct Remembered {
    job: String,
    request_sha256: String,
}

/// What a request's `Idempotency-Key` decided.
pub(crate) enum Claim {
    /// No key: an ordinary request.
    None,
    /// The key is this request's now (its slot, freed with [`release`] if the request fails).
    Claimed(String),
    /// The same request came with this key before, for this job.
    Replay(String),
}

/// Claims the request's `Idempotency-Key` for `job`.
pub(crate) async fn claim(api: &ApiState, headers: &HeaderMap, body: &Bytes, job: &str) -> Result<Claim, ApiError> {
    let Some(key) = headers.get("Idempotency-Key").and_then(|v| v.to_str().ok()) else { return Ok(Claim::None) };
    let request_sha256 = hex::encode(Sha256::digest(body));
    let client = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    let slot = hex::encode(Sha256::digest([client, b"\n", key.as_bytes()].concat()));
    let remembered = Remembered { job: job.to_string(), request_sha256: request_sha256.clone() };
    let value = Bytes::from(serde_json::to_vec(&remembered).unwrap_or_default());
    match api.idempotency.create(&slot, value).await {
        Ok(_) => Ok(Claim::Claimed(slot)),
        Err(KvError::AlreadyExists(_)) => {
            let entry = api.idempotency.get(&slot).await.map_err(ApiError::unavailable)?;
            let earlier: Remembered = entry
                .and_then(|e| serde_json::from_slice(&e.value).ok())
                .ok_or_else(|| ApiError::internal("an idempotency record is unreadable"))?;
            if earlier.request_sha256 != request_sha256 {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                ));
            }
            Ok(Claim::Replay(earlier.job))
        }
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Frees a claimed slot whose request did not get its job, so the client's retry can.
pub(crate) async fn release(api: &ApiState, slot: &str) {
    if let Err(e) = api.idempotency.delete(slot).await {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
