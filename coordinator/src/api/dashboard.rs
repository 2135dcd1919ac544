//! The operator dashboard at `/`: one static page (HTML, JS, CSS and a
//! vendored hls.js, compiled into the binary so nothing is fetched from
//! elsewhere) that reads `/v1/jobs`, `/v1/live` and `/v1/cluster`. The page
//! itself is open; its API calls carry the bearer token the operator enters.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::ApiState;

const INDEX: &str = include_str!("../../dashboard/index.html");
const SCRIPT: &str = include_str!("../../dashboard/dashboard.js");
const STYLE: &str = include_str!("../../dashboard/dashboard.css");
/// hls.js (Apache-2.0, see `dashboard/vendor/hls.js.LICENSE`), from npm at the
/// version pinned in `tests/browser/package-lock.json`.
const HLS: &str = include_str!("../../dashboard/vendor/hls.min.js");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}

/// The dashboard's routes.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route("/dashboard/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/dashboard/dashboard.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/dashboard/hls.min.js", get(|| async { asset("text/javascript; charset=utf-8", HLS) }))
}
