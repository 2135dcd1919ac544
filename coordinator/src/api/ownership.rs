//! Who owns an output prefix. A job or channel claims its prefix at creation;
//! a prefix equal to, inside, or holding another owner's is refused with 409,
//! so no request can overwrite another job's manifests and report.
//!
//! Claims are objects in the store itself, `owners/{prefix}/=/{owner}`, so they
//! hold for every coordinator sharing the store and cost no bucket: a part `=`
//! cannot occur in a prefix, which keeps the claims apart from the prefixes
//! they name. Each owner writes its own claim and then looks for others'
//! (write, then check): of two overlapping requests racing, at least one sees
//! the other, and a refused request removes its claim. Prefixes written before
//! claims existed are not protected.

use axum::http::StatusCode;
use bytes::Bytes;
use tessera_core::{Store, StoreError};

use super::error::ApiError;

/// The store folder holding the claims (reserved: no prefix may be inside it).
pub const OWNERS: &str = "owners";
/// The longest output prefix accepted: outputs add about 40 characters below it,
/// and file systems refuse names over 255 bytes.
pub const MAX_PREFIX_LEN: usize = 200;
/// The longest part of an output prefix.
pub const MAX_PREFIX_PART: usize = 100;
/// The most parts an output prefix may have.
pub const MAX_PREFIX_PARTS: usize = 16;

/// Checks a prefix's size (its characters are checked with every store key).
pub fn check_prefix_size(prefix: &str) -> Result<(), ApiError> {
    let parts = prefix.split('/').count();
    let longest = prefix.split('/').map(str::len).max().unwrap_or(0);
    if prefix.len() > MAX_PREFIX_LEN || longest > MAX_PREFIX_PART || parts > MAX_PREFIX_PARTS {
        return Err(ApiError::bad_request(
            "invalid_output_prefix",
            format!(
                "output_prefix is {} characters in {parts} parts, the longest {longest}: at most {MAX_PREFIX_LEN} \
                 characters, {MAX_PREFIX_PARTS} parts, {MAX_PREFIX_PART} characters a part",
                prefix.len()
            ),
        ));
    }
    Ok(())
}

/// Claims `prefix` for `owner` (`job-{id}`, `channel-{id}`). Ok(true) when
/// this call wrote the claim, Ok(false) when `owner` already held it (a
/// retried request). A prefix another owner holds, or one inside or around
/// another's, is a 409 naming that owner.
pub async fn claim(store: &Store, prefix: &str, owner: &str) -> Result<bool, ApiError> {
    let key = format!("{OWNERS}/{prefix}/=/{owner}");
    let held = store.exists(&key).await.map_err(unavailable)?;
    if !held {
        store.put(&key, Bytes::from(owner.to_string())).await.map_err(unavailable)?;
    }
    if let Some(other) = other_owner(store, prefix, owner).await? {
        if !held {
            if let Err(e) = store.delete(&key).await {
                tracing::warn!(%key, error = %e, "could not remove a refused output-prefix claim");
            }
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "output_prefix_taken",
            format!("output_prefix '{prefix}' overlaps '{}', which {} writes to", other.0, other.1),
        ));
    }
    Ok(!held)
}

/// Gives up a claim this request made (when the request then failed).
pub async fn release(store: &Store, prefix: &str, owner: &str) {
    let key = format!("{OWNERS}/{prefix}/=/{owner}");
    if let Err(e) = store.delete(&key).await {
        tracing::warn!(%key, error = %e, "could not release an output-prefix claim");
    }
}

/// Another owner's claim on `prefix`, below it, or on a folder above it: (its prefix, its owner).
async fn other_owner(store: &Store, prefix: &str, owner: &str) -> Result<Option<(String, String)>, ApiError> {
    let parts: Vec<&str> = prefix.split('/').collect();
    // At and below the prefix: every claim under owners/{prefix}.
    let mut folders = vec![format!("{OWNERS}/{prefix}")];
    // Above it: only the claims made exactly on each enclosing folder.
    folders.extend((1..parts.len()).map(|n| format!("{OWNERS}/{}/=", parts[..n].join("/"))));
    for folder in folders {
        for key in store.list(&folder).await.map_err(unavailable)? {
            let Some(claimed) = key.strip_prefix(&format!("{OWNERS}/")) else { continue };
            let Some((claimed_prefix, claimant)) = claimed.rsplit_once("/=/") else { continue };
            if claimant != owner {
                return Ok(Some((claimed_prefix.to_string(), claimant.to_string())));
            }
        }
    }
    Ok(None)
}

fn unavailable(e: StoreError) -> ApiError {
    ApiError::unavailable(format!("output-prefix claims: {e}"))
}
