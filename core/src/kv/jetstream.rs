//! The key-value bucket on JetStream KV (file storage), created or updated
//! idempotently when opened.

use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use async_nats::jetstream::stream::StorageType;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
use futures::TryStreamExt;

use super::{validate_key, KeyValue, KvEntry, KvError};
use crate::bus::JetStreamBus;

fn connection(e: impl std::fmt::Display) -> KvError {
    KvError::Connection(e.to_string())
}

/// A JetStream KV bucket.
#[derive(Clone)]
pub struct JetStreamKv {
    store: kv::Store,
}

impl JetStreamKv {
    /// Opens `bucket` on the bus's server, creating it (or updating its
    /// settings) first, with the bus's replica count; entries older than
    /// `max_age` expire (`None`: never).
    pub async fn open(bus: &JetStreamBus, bucket: &str, max_age: Option<Duration>) -> Result<Self, KvError> {
        let config = kv::Config {
            bucket: bucket.to_string(),
            history: 1,
            storage: StorageType::File,
            max_age: max_age.unwrap_or_default(),
            num_replicas: bus.replicas(),
            ..Default::default()
        };
        let store = bus.context().create_or_update_key_value(config).await.map_err(connection)?;
        Ok(Self { store })
    }
}

#[async_trait]
impl KeyValue for JetStreamKv {
    async fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key(key)?;
        let entry = self.store.entry(key).await.map_err(connection)?;
        Ok(entry.filter(|e| e.operation == Operation::Put).map(|e| KvEntry { value: e.value, revision: e.revision }))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        validate_key(key)?;
        self.store.create(key, value).await.map_err(|e| match e.kind() {
            CreateErrorKind::AlreadyExists => KvError::AlreadyExists(key.to_string()),
            CreateErrorKind::InvalidKey => KvError::InvalidKey(key.to_string()),
            _ => connection(e),
        })
    }

    async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        validate_key(key)?;
        self.store.update(key, value, revision).await.map_err(|e| match e.kind() {
            UpdateErrorKind::WrongLastRevision => KvError::Conflict(key.to_string()),
            UpdateErrorKind::InvalidKey => KvError::InvalidKey(key.to_string()),
            _ => connection(e),
        })
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        validate_key(key)?;
        self.store.delete(key).await.map_err(connection)
    }

    async fn keys(&self) -> Result<Vec<String>, KvError> {
        let keys = self.store.keys().await.map_err(connection)?;
        keys.try_collect().await.map_err(connection)
    }

    async fn watch_keys(&self) -> Result<BoxStream<'static, String>, KvError> {
        // The latest entry of every key, then each write as it happens.
        let watch = self.store.watch_with_history(">").await.map_err(connection)?;
        let keys = watch.take_while(|entry| std::future::ready(entry.is_ok())).filter_map(|entry| {
            std::future::ready(entry.ok().filter(|e| e.operation == Operation::Put).map(|e| e.key))
        });
        Ok(keys.boxed())
    }
}
