//! `PUT /v1/uploads`: streams a source into the store (`uploads/{id}`) without
//! holding it in memory, refusing bodies over the configured size limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures::StreamExt;
use serde::Serialize;
use tessera_core::wire::upload_key;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::ApiState;

/// What an upload returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// Pass as `source.upload_id` to `POST /v1/jobs`.
    pub upload_id: String,
    /// Bytes stored.
    pub bytes: u64,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("uploads are limited to {limit} bytes"))
}

/// Upload a source file (the raw bytes as the body).
#[utoipa::path(put, path = "/v1/uploads", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = UploadView), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(api): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let limit = api.config.max_upload_bytes;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let id = uuid::Uuid::now_v7().simple().to_string();
    let over = Arc::new(AtomicBool::new(false));
    let mut seen = 0u64;
    let flag = over.clone();
    let chunks = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
        seen += chunk.len() as u64;
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("over the upload size limit"));
        }
        Ok(chunk)
    });
    match api.store.put_stream(&upload_key(&id), Box::pin(chunks)).await {
        Ok(bytes) => {
            api.metrics.uploaded(bytes);
            tracing::info!(upload = %id, bytes, "upload stored");
            Ok((StatusCode::CREATED, Json(UploadView { upload_id: id, bytes })))
        }
        Err(_) if over.load(Ordering::Relaxed) => Err(too_large(limit)),
        Err(tessera_core::StoreError::Source { source, .. }) => {
            Err(ApiError::bad_request("invalid_request", format!("the upload was interrupted: {source}")))
        }
        Err(e) => Err(ApiError::unavailable(e)),
    }
}
