//! The lifecycle's documents as a registry holds them (deletion records
//! and their history, the event log and its head, a retention policy, a
//! gc's claim): any bytes give a value or an error from every reader,
//! verify, gc and retain, never a panic or a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use registry_core::store::{MemoryStore, Store};
use registry_core::{ModelInfo, Registry, RetentionPolicy};
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let registry = Registry::with_store(store);
    let v = "1.0.0".parse().unwrap();
    let _ = registry.save_model(&v, &vec![1u8, 2, 3], ModelInfo::default());
    let store = registry.store();
    let _ = store.swap_pointer("deletions/1.0.0.json", None, data);
    let _ = store.create("deletions-history/1.0.0/0000000001.json", data);
    let _ = store.create("events/00000000000000000003.json", data);
    let _ = store.swap_pointer("events-head.json", None, data);
    let _ = store.swap_pointer("retention.json", None, data);
    let _ = registry.deletion(&v);
    let _ = registry.deleted_versions();
    let _ = registry.events(0, 100);
    let _ = registry.verify();
    let _ = registry.retention_policy();
    let _ = registry.retain(&RetentionPolicy { keep_last: Some(0), keep_within_secs: None }, true);
    let _ = registry.gc(Duration::ZERO, true);
    let _ = registry.gc(Duration::ZERO, false);
    let _ = registry.undelete_version(&v);
    let _ = registry.repair_older_than(Duration::ZERO);
});
