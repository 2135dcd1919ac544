//! Completion webhooks: when a job ends (completed, failed or cancelled) its
//! webhook URL gets a JSON POST signed with HMAC-SHA256. The header
//! `Tessera-Signature: t=<unix seconds>,v1=<hex>` signs `"<t>.<body>"` with
//! the coordinator's webhook secret, so receivers can check both origin and
//! freshness. Delivery is retried with back-off; its outcome is kept in the
//! job record, and jobs whose webhook is still pending when a coordinator
//! starts are sent again (at-least-once: receivers should dedupe by job id).
//! Destinations are limited by a [`WebhookPolicy`].

use std::time::Duration;

use crate::records::jobs::{JobBook, JobRecord, WebhookDelivery};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::webhook_policy::WebhookPolicy;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Tessera-Signature";

/// Attempts before a webhook is marked failed.
const ATTEMPTS: u32 = 5;

/// The body POSTed to a webhook.
#[derive(Debug, Serialize)]
pub struct WebhookBody<'a> {
    /// `job.completed`, `job.failed` or `job.cancelled`.
    pub event: String,
    /// Job id.
    pub job: &'a str,
    /// Final state.
    pub state: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// Manifest and report keys.
    pub outputs: &'a [String],
}

/// The signature header's value for `body` at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends a finished job's webhook (with retries) and records the outcome.
/// The destination is checked against `policy` first (an address in the URL
/// does not go through the client's resolver), so a refused one fails at once.
pub async fn deliver(
    client: &reqwest::Client,
    policy: &WebhookPolicy,
    jobs: &JobBook,
    secret: &[u8],
    record: &JobRecord,
) {
    let Some(hook) = record.webhook.as_ref().filter(|h| h.delivery == WebhookDelivery::Pending) else { return };
    let refused = match url::Url::parse(&hook.url) {
        Ok(url) => policy.check(&url).await.err(),
        Err(e) => Some(format!("webhook_url: {e}")),
    };
    let body = WebhookBody {
        event: format!("job.{}", record.state.as_str()),
        job: record.id(),
        state: record.state.as_str(),
        error: record.error.as_ref().map(|e| e.reason.as_str()),
        outputs: &record.outputs,
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut last_error = String::new();
    let mut attempts = hook.attempts;
    let mut delivered = false;
    if let Some(reason) = refused {
        tracing::warn!(job = %record.id(), %reason, "webhook refused");
        last_error = reason;
        attempts = ATTEMPTS;
    }
    while attempts < ATTEMPTS {
        attempts += 1;
        let timestamp = tessera_core::clock::now_ms() / 1000;
        let sent = client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(secret, timestamp, &body))
            .timeout(Duration::from_secs(10))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                delivered = true;
                break;
            }
            Ok(response) => last_error = format!("HTTP {}", response.status()),
            Err(e) => last_error = e.to_string(),
        }
        tracing::warn!(job = %record.id(), attempt = attempts, error = %last_error, "webhook delivery failed");
        tokio::time::sleep(Duration::from_secs(1 << attempts.min(5))).await;
    }
    let outcome = if delivered { WebhookDelivery::Delivered } else { WebhookDelivery::Failed };
    let error = (!delivered).then_some(last_error);
    let updated = jobs
        .update(record.id(), |r| match r.webhook.as_mut() {
            Some(h) if h.delivery == WebhookDelivery::Pending => {
                h.delivery = outcome;
                h.attempts = attempts;
                h.last_error = error.clone();
                true
            }
            _ => false,
        })
        .await;
    if let Err(e) = updated {
        tracing::warn!(job = %record.id(), error = %e, "could not record the webhook's delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?"), split as "<t>.<body>".
        let sig = sign(b"Jefe", 0, b"what do ya want for nothing?");
        assert_ne!(sig, sign(b"Jefe", 1, b"what do ya want for nothing?"));
        assert!(sig.starts_with("t=0,v1="));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"0.what do ya want for nothing?");
        assert_eq!(&sig[7..], hex::encode(mac.finalize().into_bytes()));
        let rfc = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"what do ya want for nothing?");
            hex::encode(mac.finalize().into_bytes())
        };
        assert_eq!(rfc, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
