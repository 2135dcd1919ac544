//! Object storage by URL through `object_store`: a local folder, `file://`,
//! `s3://`, `gs://`, `az://` or `memory://`, under an optional key prefix.
//! Services address objects by the keys of the storage layout
//! (docs/architecture.md); this type joins them to the prefix.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncWriteExt;
use tracing::Instrument;
use url::Url;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store location cannot be used.
    #[error("store '{location}': {reason}")]
    Location {
        /// What was given.
        location: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A key is not a valid relative object path.
    #[error("invalid object key '{0}'")]
    InvalidKey(String),
    /// The object does not exist.
    #[error("object '{0}' not found")]
    NotFound(String),
    /// The stream being written failed or was refused (e.g. over a size limit).
    #[error("writing '{key}' failed: {source}")]
    Source {
        /// The key.
        key: String,
        /// What the stream said.
        #[source]
        source: std::io::Error,
    },
    /// A local file could not be written.
    #[error("local file '{path}': {source}")]
    LocalFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store failed (possibly transient).
    #[error("store operation on '{key}' failed: {source}")]
    Backend {
        /// The key.
        key: String,
        /// What object_store said.
        #[source]
        source: object_store::Error,
    },
}

impl StoreError {
    /// True when trying again later may succeed (the store did not answer or
    /// failed); false for a missing object, a bad key or a refused stream.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Backend { .. })
    }
}

/// An object store plus the key prefix everything lives under.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
}

impl Store {
    /// Opens a store: a URL (`s3://bucket/prefix`, `file:///abs/dir`,
    /// `memory://`...) or a local folder path, which is created if missing.
    /// S3 settings come from the usual `AWS_*` variables (`AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`).
    pub fn open(location: &str) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::Location { location: location.to_string(), reason };
        if location.starts_with("memory://") {
            return Ok(Self::in_memory());
        }
        if !location.contains("://") {
            return Self::local_dir(std::path::Path::new(location));
        }
        let url = Url::parse(location).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "file" {
            let dir = url.to_file_path().map_err(|()| bad("not an absolute file path".into()))?;
            return Self::local_dir(&dir);
        }
        let options: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let (store, prefix) = object_store::parse_url_opts(&url, options).map_err(|e| bad(e.to_string()))?;
        Ok(Self { inner: Arc::from(store), prefix, description: location.to_string() })
    }

    /// A local folder (created if missing).
    pub fn local_dir(dir: &std::path::Path) -> Result<Self, StoreError> {
        let bad = |reason: String| StoreError::Location { location: dir.display().to_string(), reason };
        std::fs::create_dir_all(dir).map_err(|e| bad(e.to_string()))?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| bad(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(fs.with_automatic_cleanup(true)),
            prefix: Path::default(),
            description: dir.display().to_string(),
        })
    }

    /// An empty in-memory store.
    pub fn in_memory() -> Self {
        Self { inner: Arc::new(InMemory::new()), prefix: Path::default(), description: "memory://".into() }
    }

    /// Where the store is, for messages.
    pub fn describe(&self) -> &str {
        &self.description
    }

    fn path(&self, key: &str) -> Result<Path, StoreError> {
        let rel = Path::parse(key).map_err(|_| StoreError::InvalidKey(key.to_string()))?;
        if key.is_empty() || key.split('/').any(|part| part == ".." || part == ".") {
            return Err(StoreError::InvalidKey(key.to_string()));
        }
        Ok(self.prefix.parts().chain(rel.parts()).collect())
    }

    /// Maps a backend failure, counting it in `tessera_store_errors_total{op}`
    /// (a missing object is an answer, not a failure).
    fn backend<'k>(op: &'static str, key: &'k str) -> impl FnOnce(object_store::Error) -> StoreError + 'k {
        move |source| match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound(key.to_string()),
            source => {
                count_error(op);
                StoreError::Backend { key: key.to_string(), source }
            }
        }
    }

    /// Writes an object (atomically: readers see the old or the new bytes).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let span = op_span(Op::Write, key);
        async move {
            let path = self.path(key)?;
            self.inner.put(&path, PutPayload::from_bytes(bytes)).await.map_err(Self::backend("write", key))?;
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let span = op_span(Op::Read, key);
        async move {
            let path = self.path(key)?;
            let result = self.inner.get(&path).await.map_err(Self::backend("read", key))?;
            result.bytes().await.map_err(Self::backend("read", key))
        }
        .instrument(span)
        .await
    }

    /// Writes an object from a stream of chunks without holding it whole in
    /// memory (a multipart upload on object stores). If the stream fails the
    /// upload is aborted and nothing is written. Returns the bytes written.
    pub async fn put_stream<S>(&self, key: &str, mut chunks: S) -> Result<u64, StoreError>
    where
        S: futures::Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
    {
        let span = op_span(Op::Write, key);
        async move {
            use futures::StreamExt;
            let path = self.path(key)?;
            let upload = self.inner.put_multipart(&path).await.map_err(Self::backend("write", key))?;
            let mut writer = WriteMultipart::new(upload);
            let mut written = 0u64;
            while let Some(chunk) = chunks.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(source) => {
                        let _ = writer.abort().await;
                        return Err(StoreError::Source { key: key.to_string(), source });
                    }
                };
                // Bounds the parts in flight, so memory stays at a few parts.
                writer.wait_for_capacity(4).await.map_err(Self::backend("write", key))?;
                written += chunk.len() as u64;
                writer.put(chunk);
            }
            writer.finish().await.map_err(Self::backend("write", key))?;
            Ok(written)
        }
        .instrument(span)
        .await
    }

    /// Copies an object into a local file chunk by chunk; returns its size.
    pub async fn get_to_file(&self, key: &str, file: &std::path::Path) -> Result<u64, StoreError> {
        let span = op_span(Op::Read, key);
        async move {
            use futures::StreamExt;
            let local = |source: std::io::Error| StoreError::LocalFile { path: file.display().to_string(), source };
            let path = self.path(key)?;
            let result = self.inner.get(&path).await.map_err(Self::backend("read", key))?;
            let mut out = tokio::fs::File::create(file).await.map_err(local)?;
            let mut stream = result.into_stream();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(Self::backend("read", key))?;
                size += chunk.len() as u64;
                out.write_all(&chunk).await.map_err(local)?;
            }
            out.flush().await.map_err(local)?;
            Ok(size)
        }
        .instrument(span)
        .await
    }

    /// True when the object exists.
    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let path = self.path(key)?;
        match self.inner.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Self::backend("head", key)(source)),
        }
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(Self::backend("delete", key)(source)),
        }
    }

    /// Keys (relative to the store prefix) under `prefix` (`""`: all), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let path = if prefix.is_empty() { self.prefix.clone() } else { self.path(prefix)? };
        let objects: Vec<_> =
            self.inner.list(Some(&path)).try_collect().await.map_err(Self::backend("list", prefix))?;
        let skip = self.prefix.parts().count();
        let mut keys: Vec<String> = objects
            .into_iter()
            .map(|meta| meta.location.parts().skip(skip).map(|p| p.as_ref().to_string()).collect::<Vec<_>>().join("/"))
            .collect();
        keys.sort();
        Ok(keys)
    }
}

/// What a traced store call does.
enum Op {
    Read,
    Write,
}

/// The span of a store call made inside traced work (a job's segmenting, a
/// task, packaging); a call outside any span gets none, so that uploads,
/// report reads and rebuilds do not each become a one-span trace.
fn op_span(op: Op, key: &str) -> tracing::Span {
    if tracing::Span::current().is_none() {
        return tracing::Span::none();
    }
    match op {
        Op::Read => tracing::info_span!("store.read", key),
        Op::Write => tracing::info_span!("store.write", key),
    }
}

/// Failed store operations by operation (`tessera_store_errors_total{op}`).
static ERRORS: std::sync::LazyLock<opentelemetry::metrics::Counter<u64>> = std::sync::LazyLock::new(|| {
    opentelemetry::global::meter(crate::telemetry::SCOPE)
        .u64_counter("tessera_store_errors")
        .with_description("Failed object store operations by operation")
        .build()
});

/// The operations counted in `tessera_store_errors_total`.
const OPERATIONS: [&str; 5] = ["read", "write", "head", "delete", "list"];

/// Starts the store error counters at zero, so that they are exported before
/// the first error (call once the process's meter provider is installed).
pub fn init_metrics() {
    for op in OPERATIONS {
        ERRORS.add(0, &[opentelemetry::KeyValue::new("op", op)]);
    }
}

/// Counts a failed store operation.
fn count_error(op: &'static str) {
    ERRORS.add(1, &[opentelemetry::KeyValue::new("op", op)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trip_and_key_checks() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("out").to_str().unwrap()).unwrap();
        store.put("a/b/000001.m4s", Bytes::from_static(b"xy")).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("out/a/b/000001.m4s")).unwrap(), b"xy");
        assert_eq!(store.get("a/b/000001.m4s").await.unwrap(), Bytes::from_static(b"xy"));
        assert!(store.exists("a/b/000001.m4s").await.unwrap());
        assert_eq!(store.list("a").await.unwrap(), ["a/b/000001.m4s"]);
        assert!(matches!(store.get("a/missing").await, Err(StoreError::NotFound(_))));
        for bad in ["../x", "a/../../x", "", "a//b"] {
            assert!(store.put(bad, Bytes::new()).await.is_err(), "{bad}");
        }
        store.delete("a/b/000001.m4s").await.unwrap();
        store.delete("a/b/000001.m4s").await.unwrap();
        assert!(!store.exists("a/b/000001.m4s").await.unwrap());
    }

    #[tokio::test]
    async fn urls_pick_the_backend() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let store = Store::open(&url).unwrap();
        store.put("k", Bytes::from_static(b"1")).await.unwrap();
        assert!(dir.path().join("k").exists());
        let mem = Store::open("memory://").unwrap();
        mem.put("x/y", Bytes::from_static(b"2")).await.unwrap();
        assert_eq!(mem.list("x").await.unwrap(), ["x/y"]);
        assert!(Store::open("nosuch://bucket").is_err());
    }
}
