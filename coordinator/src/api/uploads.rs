//! `PUT /v1/uploads`: streams a source into the store (`uploads/{id}`) without
//! holding it in memory, refusing bodies over the configured size limit.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures::{SinkExt, StreamExt};
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
    // The body is read here and handed to the store through a small channel,
    // so that a body over the limit can still be read to its end (up to a
    // bound) before answering: a server that answers while the client is
    // still sending makes the client see a reset instead of the 413.
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let store = api.store.clone();
    let key = upload_key(&id);
    let writer = tokio::spawn(async move { store.put_stream(&key, rx).await });
    let mut body = body.into_data_stream();
    let mut seen = 0u64;
    let mut over = false;
    let mut interrupted = None;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                interrupted = Some(e.to_string());
                let _ = tx.send(Err(std::io::Error::other("the client stopped sending"))).await;
                break;
            }
        };
        seen += chunk.len() as u64;
        if seen > limit {
            over = true;
            let _ = tx.send(Err(std::io::Error::other("over the upload size limit"))).await;
            break;
        }
        if tx.send(Ok(chunk)).await.is_err() {
            break; // the store write failed: its error is reported below
        }
    }
    drop(tx);
    if over {
        drain(&mut body).await;
    }
    let written = writer.await.map_err(|e| ApiError::internal(format!("upload task: {e}")))?;
    match written {
        Ok(bytes) => {
            api.metrics.uploaded(bytes);
            tracing::info!(upload = %id, bytes, "upload stored");
            Ok((StatusCode::CREATED, Json(UploadView { upload_id: id, bytes })))
        }
        Err(_) if over => Err(too_large(limit)),
        Err(_) if interrupted.is_some() => Err(ApiError::bad_request(
            "invalid_request",
            format!("the upload was interrupted: {}", interrupted.unwrap_or_default()),
        )),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Reads and drops what is left of a refused body, up to 64 MiB or 10 s, so
/// the client gets the answer instead of a reset.
async fn drain(body: &mut axum::body::BodyDataStream) {
    let mut left: u64 = 64 << 20;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = body.next().await {
            left = left.saturating_sub(chunk.len() as u64);
            if left == 0 {
                break;
            }
        }
    })
    .await;
}
