//! `metadata.json`, alias pointers and history entries: any bytes give a
//! value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use registry_core::store::{MemoryStore, Store};
use registry_core::{AliasName, ModelMetadata, Registry};

fuzz_target!(|data: &[u8]| {
    let _ = ModelMetadata::from_json(data, "fuzz/metadata.json");
    let store = MemoryStore::new();
    let _ = store.swap_pointer("aliases/production.json", None, data);
    let _ = store.create("versions/1.0.0/metadata.json", data);
    let _ = store.create("history/production/0000000001.json", data);
    let registry = Registry::with_store(store);
    let production: AliasName = "production".parse().unwrap();
    let _ = registry.resolve(&production);
    let _ = registry.alias_history(&production);
    let _ = registry.list_versions();
    let _ = registry.metadata(&"1.0.0".parse().unwrap());
    let _ = registry.verify();
});
