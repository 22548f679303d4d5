//! An in-memory store, for tests and for trying the registry out. It keeps
//! the same guarantees as the filesystem store within one process (a single
//! mutex makes every operation atomic); nothing survives the process.

use super::{Pointer, PointerTag, Store, StoreError, validate_key};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, (Vec<u8>, u64)>,
    views: BTreeMap<String, String>,
    /// When each object was last written, for [`Store::age`].
    written: BTreeMap<String, Instant>,
    generation: u64,
}

/// A [`Store`] held in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied
        // operation (each one is a single map update), so poisoning is moot.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn loc(key: &str) -> String {
    format!("memory:{key}")
}

impl Store for MemoryStore {
    fn location(&self, key: &str) -> String {
        loc(key)
    }

    fn create(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        validate_key(key)?;
        let mut s = self.state();
        if s.objects.contains_key(key) {
            return Err(StoreError::AlreadyExists { location: loc(key) });
        }
        s.generation += 1;
        let generation = s.generation;
        s.objects.insert(key.to_string(), (bytes.to_vec(), generation));
        s.written.insert(key.to_string(), Instant::now());
        Ok(())
    }

    fn read(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        validate_key(key)?;
        self.state()
            .objects
            .get(key)
            .map(|(b, _)| b.clone())
            .ok_or_else(|| StoreError::NotFound { location: loc(key) })
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .state()
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }

    fn read_pointer_limited(&self, key: &str, limit: u64) -> Result<Option<Pointer>, StoreError> {
        validate_key(key)?;
        let pointer = self.state().objects.get(key).map(|(b, g)| Pointer {
            bytes: b.clone(),
            tag: PointerTag(g.to_string()),
        });
        match pointer {
            Some(p) if p.bytes.len() as u64 > limit => Err(StoreError::TooLarge {
                location: loc(key),
                size: p.bytes.len() as u64,
                limit,
            }),
            other => Ok(other),
        }
    }

    fn swap_pointer(&self, key: &str, expected: Option<&PointerTag>, new: &[u8]) -> Result<PointerTag, StoreError> {
        validate_key(key)?;
        let mut s = self.state();
        let current = s.objects.get(key).map(|(_, g)| PointerTag(g.to_string()));
        if current.as_ref() != expected {
            return Err(StoreError::Conflict { location: loc(key) });
        }
        s.generation += 1;
        let generation = s.generation;
        s.objects.insert(key.to_string(), (new.to_vec(), generation));
        s.written.insert(key.to_string(), Instant::now());
        Ok(PointerTag(generation.to_string()))
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        validate_key(key)?;
        let mut s = self.state();
        s.written.remove(key);
        s.objects
            .remove(key)
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound { location: loc(key) })
    }

    fn age(&self, key: &str) -> Result<Option<Duration>, StoreError> {
        validate_key(key)?;
        match self.state().written.get(key) {
            Some(at) => Ok(Some(at.elapsed())),
            None => Err(StoreError::NotFound { location: loc(key) }),
        }
    }

    fn publish_view(&self, view: &str, target_prefix: &str) -> Result<(), StoreError> {
        validate_key(view)?;
        self.state()
            .views
            .insert(view.to_string(), target_prefix.trim_end_matches('/').to_string());
        Ok(())
    }

    fn read_view(&self, view: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().views.get(view).cloned())
    }
}
