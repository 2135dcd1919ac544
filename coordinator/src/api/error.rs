//! API errors: an HTTP status plus a JSON body `{"error": {"code", "message"}}`
//! whose `code` is stable for clients to match on.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// The JSON body of an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: `unauthorized`, `invalid_request`, `invalid_job_id`,
    /// `invalid_source`, `source_not_found`, `invalid_output_prefix`,
    /// `invalid_ladder`, `invalid_webhook`, `webhook_unavailable`, `job_exists`,
    /// `output_prefix_taken`, `not_found`, `job_ended`, `idempotency_key_reused`,
    /// `payload_too_large`, `unsupported_media_type`, `unavailable`, `internal`.
    pub code: String,
    /// Explanation.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 500: something on our side failed (logged; the message stays generic-but-useful).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string())
    }

    /// 503: the bus or the job records are unreachable right now.
    pub fn unavailable(error: impl std::fmt::Display) -> Self {
        tracing::warn!(%error, "API request could not reach a dependency");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}
