//! `tessera submit`: uploads a local file (streamed) or names an object URL,
//! submits a job to a coordinator, and with `--wait` follows it to the end.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

use super::progress::Progress;
use super::JobFailed;

/// Submit flags.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// A local MP4 file (uploaded first) or an object URL inside the coordinator's store.
    input: String,
    /// Coordinator base URL.
    #[arg(long, env = "TESSERA_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Bearer token for the API.
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Follow the job with a progress bar until it ends; exit non-zero if it fails.
    #[arg(long)]
    wait: bool,
    /// Video codecs, comma-separated: h264, av1.
    #[arg(long, value_delimiter = ',', default_value = "h264")]
    codecs: Vec<String>,
    /// Ladder file (JSON, or TOML by its .toml extension) instead of the default ladder.
    #[arg(long)]
    ladder: Option<PathBuf>,
    /// Target segment duration in seconds, 1-30.
    #[arg(long)]
    segment_duration: Option<tessera_core::SegmentDuration>,
    /// Job id (default: made by the coordinator).
    #[arg(long)]
    id: Option<String>,
    /// Output prefix in the store (default: outputs/{id}).
    #[arg(long)]
    output_prefix: Option<String>,
    /// URL called (signed) when the job ends.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Makes the submission safe to repeat: the same key returns the same job.
    #[arg(long)]
    idempotency_key: Option<String>,
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// The JSON answer, or an error with the API's code and message.
    async fn json(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
        let response = request.send().await.with_context(|| format!("{what}: cannot reach {}", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["error"]["code"].as_str().unwrap_or("unknown");
            let message = body["error"]["message"].as_str().unwrap_or("no message");
            bail!("{what}: HTTP {status} {code}: {message}");
        }
        Ok(body)
    }
}

/// Submits (and maybe follows) one job.
pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    super::cluster::runtime()?.block_on(submit(args))
}

async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let api =
        Api { client: reqwest::Client::new(), base: args.server.trim_end_matches('/').to_string(), token: args.token };
    let local = std::path::Path::new(&args.input);
    let source = if local.is_file() {
        let file = tokio::fs::File::open(local).await.with_context(|| format!("cannot open {}", local.display()))?;
        let size = file.metadata().await?.len();
        eprintln!("uploading {} ({:.1} MB)", local.display(), size as f64 / 1e6);
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let upload = api
            .json(
                api.request(reqwest::Method::PUT, "/v1/uploads")
                    .header(reqwest::header::CONTENT_LENGTH, size)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body),
                "upload",
            )
            .await?;
        json!({ "upload_id": upload["upload_id"] })
    } else if args.input.contains("://") {
        json!({ "url": args.input })
    } else {
        bail!("{} is not a file (and not an object URL)", args.input);
    };
    let mut request = json!({ "source": source, "codecs": args.codecs });
    if let Some(path) = &args.ladder {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let ladder = tessera_core::Ladder::from_file_text(&path.display().to_string(), &text)?;
        request["ladder"] = serde_json::to_value(ladder)?;
    }
    for (key, value) in [
        ("id", args.id.map(Value::from)),
        ("output_prefix", args.output_prefix.map(Value::from)),
        ("webhook_url", args.webhook_url.map(Value::from)),
        ("segment_duration", args.segment_duration.map(|d| Value::from(d.secs()))),
    ] {
        if let Some(value) = value {
            request[key] = value;
        }
    }
    let mut post = api.request(reqwest::Method::POST, "/v1/jobs").json(&request);
    if let Some(key) = &args.idempotency_key {
        post = post.header("Idempotency-Key", key);
    }
    let job = api.json(post, "submit").await?;
    let id = job["id"].as_str().context("the coordinator returned no job id")?.to_string();
    println!("{id}");
    eprintln!("job {id} submitted");
    if args.wait {
        follow(&api, &id).await?;
    }
    Ok(())
}

/// Polls the job until it ends, showing progress.
async fn follow(api: &Api, id: &str) -> anyhow::Result<()> {
    let mut progress = Progress::default();
    let mut started = false;
    loop {
        let job = api.json(api.request(reqwest::Method::GET, &format!("/v1/jobs/{id}")), "status").await?;
        let (done, total) =
            (job["progress"]["done"].as_u64().unwrap_or(0), job["progress"]["total"].as_u64().unwrap_or(0));
        if total > 0 && !started {
            progress.start(total);
            started = true;
        }
        if started {
            progress.set(done);
        }
        match job["state"].as_str().unwrap_or("") {
            "completed" => {
                progress.finish();
                eprintln!("job {id} completed; outputs under {}", job["output_prefix"].as_str().unwrap_or(""));
                for output in job["outputs"].as_array().into_iter().flatten() {
                    println!("{}", output.as_str().unwrap_or(""));
                }
                return Ok(());
            }
            "failed" => {
                progress.finish();
                let reason = job["error"]["reason"].as_str().unwrap_or("no reason given").to_string();
                let bad_input = job["error"]["bad_input"].as_bool().unwrap_or(false);
                return Err(JobFailed { reason, bad_input }.into());
            }
            "cancelled" => {
                progress.finish();
                bail!("job {id} was cancelled");
            }
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
