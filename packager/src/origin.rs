//! The origin: serves a job's outputs from the store over HTTP, and answers
//! Low-Latency HLS's blocking playlist reloads, which object storage cannot
//! (it cannot hold a request open). A request for a media playlist with
//! `_HLS_msn=M` (and `_HLS_part=P`) is held until the playlist in the store
//! lists that part (or the whole segment M, or anything later), then
//! answered at once; after three target durations of waiting it gets 503,
//! as RFC 8216bis asks. The origin keeps nothing: every answer is read from
//! the store, so any number of replicas can serve any channel. It polls the
//! playlist while a request waits (every 25 ms); the packager rewrites it
//! at every part. A low-latency segment asked for before it is complete
//! (LL-DASH) is sent as its parts are written, in one chunked response.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tessera_core::wire::part_key;
use tessera_core::{Store, StoreError};

/// How often a held request looks at the playlist again.
const POLL: Duration = Duration::from_millis(25);
/// The longest a request is held (three 2 s target durations).
pub const MAX_HOLD: Duration = Duration::from_secs(6);

/// LL-HLS delivery directives (RFC 8216bis 6.2.5).
#[derive(Debug, Default, Deserialize)]
struct Directives {
    #[serde(rename = "_HLS_msn")]
    msn: Option<u32>,
    #[serde(rename = "_HLS_part")]
    part: Option<u32>,
    #[serde(rename = "_HLS_skip")]
    skip: Option<String>,
}

/// Tags of a media playlist's header (everything else belongs to a segment).
const HEADER_TAGS: [&str; 9] = [
    "#EXTM3U",
    "#EXT-X-VERSION",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-SERVER-CONTROL",
    "#EXT-X-PART-INF",
    "#EXT-X-PLAYLIST-TYPE",
];

/// A Playlist Delta Update (RFC 8216bis 6.2.5.1): the segments that start
/// more than the playlist's `CAN-SKIP-UNTIL` before its end are replaced by
/// `EXT-X-SKIP`. `None` when the playlist allows none or nothing is that old.
pub fn delta_update(playlist: &str) -> Option<String> {
    let skip_until: f64 = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-SERVER-CONTROL:"))?
        .split(',')
        .find_map(|a| a.strip_prefix("CAN-SKIP-UNTIL="))?
        .parse()
        .ok()?;
    let mut header = Vec::new();
    let mut blocks: Vec<(f64, Vec<&str>)> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut duration = 0.0;
    for line in playlist.lines() {
        if blocks.is_empty() && current.is_empty() && HEADER_TAGS.iter().any(|t| line.starts_with(t)) {
            header.push(line);
            continue;
        }
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.split(',').next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
        }
        current.push(line);
        if !line.starts_with('#') && !line.is_empty() {
            blocks.push((duration, std::mem::take(&mut current)));
        }
    }
    let total: f64 = blocks.iter().map(|b| b.0).sum();
    let mut start = 0.0;
    let skipped = blocks
        .iter()
        .take_while(|(d, _)| {
            let old = total - start > skip_until;
            start += d;
            old
        })
        .count();
    if skipped == 0 {
        return None;
    }
    let mut out: Vec<String> = header.iter().map(|l| l.to_string()).collect();
    out.push(format!("#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}"));
    out.extend(blocks[skipped..].iter().flat_map(|(_, lines)| lines.iter().map(|l| l.to_string())));
    out.extend(current.iter().map(|l| l.to_string()));
    Some(out.join("\n") + "\n")
}

/// The origin's routes: `GET /{key}` for every output key, readable from
/// any web page (players are served from elsewhere), and `/healthz`,
/// `/readyz` for probes.
pub fn router(store: Store) -> Router {
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::HEAD])
        .expose_headers([header::CONTENT_LENGTH]);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/{*key}", get(serve))
        .with_state(store)
        .layer(cors)
}

/// True when `playlist` has what a reload for segment `msn` (part `part`) waits for.
pub fn playlist_reached(playlist: &str, msn: u32, part: Option<u32>) -> bool {
    let segment = format!("{msn:06}.m4s");
    let later = format!("{:06}.", msn.saturating_add(1));
    playlist.lines().any(|line| {
        let uri = line.strip_prefix("#EXT-X-PART:").and_then(|attrs| attrs.split("URI=\"").nth(1));
        let uri = uri.map(|u| u.split('"').next().unwrap_or_default());
        match (uri, part) {
            // A listed part of the segment asked for (or of a later one).
            (Some(uri), Some(part)) => uri == format!("{msn:06}.{part}.m4s") || uri.starts_with(&later),
            (Some(uri), None) => uri.starts_with(&later),
            // A whole segment listed: the one asked for, or a later one.
            (None, _) => !line.starts_with('#') && (line == segment || line.starts_with(&later)),
        }
    })
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("mpd") => "application/dash+xml",
        Some("mp4") => "video/mp4",
        Some("m4s") => "video/iso.segment",
        Some("json") => "application/json",
        Some("vtt") => "text/vtt",
        _ => "application/octet-stream",
    }
}

async fn serve(State(store): State<Store>, Path(key): Path<String>, Query(directives): Query<Directives>) -> Response {
    let playlist = key.ends_with(".m3u8");
    let read = match (playlist, directives.msn) {
        (true, Some(msn)) => hold(&store, &key, msn, directives.part).await,
        _ => store.get(&key).await.map(Some),
    };
    let delta = playlist && directives.skip.as_deref() == Some("YES");
    let read = read.map(|bytes| match bytes {
        Some(bytes) if delta => delta_update(&String::from_utf8_lossy(&bytes)).map(bytes::Bytes::from).or(Some(bytes)),
        other => other,
    });
    match read {
        Ok(Some(bytes)) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&key)));
            // Playlists change with every part; media never changes once written.
            let cache = if playlist || key.ends_with(".mpd") { "no-cache" } else { "max-age=3600" };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        Ok(None) => (StatusCode::SERVICE_UNAVAILABLE, "the playlist did not reach that part in time").into_response(),
        Err(StoreError::NotFound(_)) if key.ends_with(".m4s") => match growing(&store, &key).await {
            Some(response) => response,
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Err(StoreError::NotFound(_) | StoreError::InvalidKey(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(%key, error = %e, "origin read failed");
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// How long a growing segment may wait for its next part.
const PART_WAIT: Duration = Duration::from_secs(6);

/// A low-latency segment still being encoded, sent as its parts are written
/// (HTTP chunked transfer: LL-DASH players ask for it early, as the MPD's
/// `availabilityTimeOffset` allows); `None` when it has no part yet.
async fn growing(store: &Store, key: &str) -> Option<Response> {
    let first = store.get(&part_key(key, 0)).await.ok()?;
    // State: the store, the segment's key, the next part's number (none: done).
    let state = (store.clone(), key.to_string(), Some(1u32));
    let rest = futures::stream::unfold(state, |(store, key, next)| async move {
        let next = next?;
        let deadline = tokio::time::Instant::now() + PART_WAIT;
        loop {
            match store.get(&part_key(&key, next)).await {
                Ok(part) => return Some((Ok(part), (store, key, Some(next + 1)))),
                // The segment is written after its last part: no part `next` and the segment there means done.
                Err(StoreError::NotFound(_)) if store.exists(&key).await.unwrap_or(true) => return None,
                Err(StoreError::NotFound(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                Err(StoreError::NotFound(_)) => return None,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), (store, key, None))),
            }
        }
    });
    let parts = futures::StreamExt::chain(futures::stream::once(async move { Ok(first) }), rest);
    let mut response = axum::body::Body::from_stream(parts).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/iso.segment"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

/// Holds a blocking reload until the playlist reaches `msn`/`part`; `None` after [`MAX_HOLD`].
async fn hold(store: &Store, key: &str, msn: u32, part: Option<u32>) -> Result<Option<bytes::Bytes>, StoreError> {
    let deadline = tokio::time::Instant::now() + MAX_HOLD;
    loop {
        match store.get(key).await {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                // A finished (VOD) playlist will not grow: answer with it.
                if playlist_reached(&text, msn, part) || text.contains("#EXT-X-ENDLIST") {
                    return Ok(Some(bytes));
                }
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{delta_update, playlist_reached};

    #[test]
    fn delta_updates_skip_what_is_older_than_can_skip_until() {
        let mut playlist = String::from(
            "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n\
             #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,PART-HOLD-BACK=1.500\n\
             #EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MAP:URI=\"init.mp4\"\n",
        );
        for seq in 5..15 {
            playlist += &format!("#EXT-X-PROGRAM-DATE-TIME:2026-12-06T00:00:{seq:02}Z\n#EXTINF:2,\n{seq:06}.m4s\n");
        }
        playlist += "#EXT-X-PART:DURATION=0.50000,URI=\"000015.0.m4s\",INDEPENDENT=YES\n";
        let delta = delta_update(&playlist).unwrap();
        // 20 s listed: the four segments starting more than 12 s before the end go.
        assert!(delta.contains("#EXT-X-MEDIA-SEQUENCE:5\n") && delta.contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n"));
        assert!(!delta.contains("000008.m4s") && delta.contains("000009.m4s\n") && !delta.contains("init.mp4"));
        assert!(delta.ends_with("URI=\"000015.0.m4s\",INDEPENDENT=YES\n"), "{delta}");
        assert!(delta_update(&playlist.replace("CAN-SKIP-UNTIL=12.0,", "")).is_none(), "not allowed");
        assert!(delta_update(&playlist.replace("CAN-SKIP-UNTIL=12.0", "CAN-SKIP-UNTIL=30.0")).is_none(), "too short");
    }

    #[test]
    fn reloads_wait_for_the_part_or_segment_asked_for() {
        let playlist =
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-PART:DURATION=0.5,URI=\"000004.0.m4s\",INDEPENDENT=YES\n\
                        #EXT-X-PART:DURATION=0.5,URI=\"000004.1.m4s\"\n#EXTINF:2,\n000004.m4s\n\
                        #EXT-X-PART:DURATION=0.5,URI=\"000005.0.m4s\",INDEPENDENT=YES\n\
                        #EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"000005.1.m4s\"\n";
        assert!(playlist_reached(playlist, 4, None));
        assert!(playlist_reached(playlist, 4, Some(3)), "segment 4 is whole: any part of it");
        assert!(playlist_reached(playlist, 5, Some(0)));
        assert!(!playlist_reached(playlist, 5, Some(1)), "only hinted");
        assert!(!playlist_reached(playlist, 5, None), "segment 5 is not whole yet");
        assert!(!playlist_reached(playlist, 6, Some(0)));
    }
}
