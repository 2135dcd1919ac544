//! The key-value contract every bucket implementation must pass: create
//! refuses an existing key, update refuses a stale revision, revisions grow,
//! keys list what was written, bad keys are refused, deleted keys can be
//! created again. One call runs them all
//! (each against fresh keys), so one test per implementation suffices.

use bytes::Bytes;
use tessera_core::kv::{KeyValue, KvError};

/// Runs every case against `kv`.
pub async fn all(kv: &dyn KeyValue) {
    create_then_get(kv).await;
    create_refuses_existing(kv).await;
    update_checks_revision(kv).await;
    keys_lists_written(kv).await;
    invalid_keys_refused(kv).await;
    delete_then_create_again(kv).await;
    watch_gives_the_keys_there_then_each_write(kv).await;
}

/// A watch starts with the keys already there, then gives each key as it is
/// written (created or updated).
async fn watch_gives_the_keys_there_then_each_write(kv: &dyn KeyValue) {
    use futures::StreamExt;
    use std::time::Duration;

    kv.create("w-before", Bytes::from_static(b"1")).await.unwrap();
    let mut keys = kv.watch_keys().await.unwrap();
    async fn next(keys: &mut futures::stream::BoxStream<'static, String>) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(5), keys.next()).await.expect("a key within 5 s")
    }
    let revision = kv.create("w-new", Bytes::from_static(b"1")).await.unwrap();
    // The keys there first (earlier cases' too, in any order), then the new one.
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("w-new") {
        seen.push(next(&mut keys).await.expect("the watch goes on"));
    }
    assert!(seen.iter().any(|k| k == "w-before"), "the key written before the watch: {seen:?}");
    kv.update("w-new", Bytes::from_static(b"2"), revision).await.unwrap();
    assert_eq!(next(&mut keys).await.as_deref(), Some("w-new"), "an update is a write");
}

async fn delete_then_create_again(kv: &dyn KeyValue) {
    kv.create("d", Bytes::from_static(b"1")).await.unwrap();
    kv.delete("d").await.unwrap();
    kv.delete("never-there").await.unwrap();
    assert_eq!(kv.get("d").await.unwrap(), None);
    assert!(!kv.keys().await.unwrap().iter().any(|k| k == "d"), "a deleted key is not listed");
    kv.create("d", Bytes::from_static(b"2")).await.unwrap();
    assert_eq!(kv.get("d").await.unwrap().unwrap().value, Bytes::from_static(b"2"));
}

async fn create_then_get(kv: &dyn KeyValue) {
    assert_eq!(kv.get("absent").await.unwrap(), None);
    let revision = kv.create("a", Bytes::from_static(b"one")).await.unwrap();
    let entry = kv.get("a").await.unwrap().expect("created key is there");
    assert_eq!(entry.value, Bytes::from_static(b"one"));
    assert_eq!(entry.revision, revision);
}

async fn create_refuses_existing(kv: &dyn KeyValue) {
    kv.create("b", Bytes::from_static(b"first")).await.unwrap();
    let second = kv.create("b", Bytes::from_static(b"second")).await;
    assert!(matches!(second, Err(KvError::AlreadyExists(_))), "{second:?}");
    assert_eq!(kv.get("b").await.unwrap().unwrap().value, Bytes::from_static(b"first"));
}

async fn update_checks_revision(kv: &dyn KeyValue) {
    let first = kv.create("c", Bytes::from_static(b"1")).await.unwrap();
    let second = kv.update("c", Bytes::from_static(b"2"), first).await.unwrap();
    assert!(second > first, "revisions grow: {first} then {second}");
    let stale = kv.update("c", Bytes::from_static(b"3"), first).await;
    assert!(matches!(stale, Err(KvError::Conflict(_))), "{stale:?}");
    let entry = kv.get("c").await.unwrap().unwrap();
    assert_eq!((entry.value, entry.revision), (Bytes::from_static(b"2"), second));
    let missing = kv.update("never-written", Bytes::from_static(b"x"), 1).await;
    assert!(matches!(missing, Err(KvError::Conflict(_))), "{missing:?}");
}

async fn keys_lists_written(kv: &dyn KeyValue) {
    kv.create("k-1", Bytes::new()).await.unwrap();
    kv.create("k-2", Bytes::new()).await.unwrap();
    let keys = kv.keys().await.unwrap();
    for key in ["a", "b", "c", "k-1", "k-2"] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
}

async fn invalid_keys_refused(kv: &dyn KeyValue) {
    for key in ["", "a b", "../x", "a/b", "a*", "a>", ".a"] {
        let result = kv.create(key, Bytes::new()).await;
        assert!(matches!(result, Err(KvError::InvalidKey(_))), "key {key:?}: {result:?}");
    }
}
