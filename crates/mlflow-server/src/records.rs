//! The few MLflow records `registry serve` keeps beside the registry's
//! versions, under `mlflow/` in the same store: experiments, runs, logged
//! models, registered models' descriptions and tags, and the notes (a
//! description, tags) MLflow lets a client add to an immutable version.
//! Each is one small JSON object created and changed by compare-and-swap,
//! so concurrent clients never lose each other's writes and a crash
//! leaves either the old or the new record.

use crate::error::{ApiError, ApiResult};
use registry_core::store::{Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the records live in the store.
pub const PREFIX: &str = "mlflow/";

/// The most bytes one record may have (a run with many params and a long
/// metric history is the largest).
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// The records of one store.
pub struct Records<'s> {
    store: &'s dyn Store,
}

impl<'s> Records<'s> {
    pub fn new(store: &'s dyn Store) -> Records<'s> {
        Records { store }
    }

    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    /// The record at `key`, if there is one.
    pub fn read<T: DeserializeOwned>(&self, key: &str) -> ApiResult<Option<T>> {
        Ok(self.read_tagged(key)?.map(|(t, _)| t))
    }

    fn read_tagged<T: DeserializeOwned>(&self, key: &str) -> ApiResult<Option<(T, registry_core::store::PointerTag)>> {
        let Some(pointer) = self.store.read_pointer_limited(key, MAX_RECORD_BYTES)? else {
            return Ok(None);
        };
        let value = serde_json::from_slice(&pointer.bytes).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "DATA_LOSS",
                format!(
                    "the record {} is damaged ({e}): restore it from a backup or delete it",
                    self.store.location(key)
                ),
            )
        })?;
        Ok(Some((value, pointer.tag)))
    }

    /// Creates the record at `key`; `false` if one is there already.
    pub fn create<T: Serialize>(&self, key: &str, record: &T) -> ApiResult<bool> {
        match self.store.swap_pointer(key, None, &encode(record)?) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the record at `key` with `change` (given a fresh copy on
    /// every attempt), by compare-and-swap: `Ok(None)` if there is none.
    pub fn update<T: DeserializeOwned + Serialize>(
        &self,
        key: &str,
        mut change: impl FnMut(&mut T) -> ApiResult<()>,
    ) -> ApiResult<Option<T>> {
        loop {
            let Some((mut record, tag)) = self.read_tagged::<T>(key)? else {
                return Ok(None);
            };
            change(&mut record)?;
            match self.store.swap_pointer(key, Some(&tag), &encode(&record)?) {
                Ok(_) => return Ok(Some(record)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Creates the record if absent, then changes it.
    pub fn upsert<T: DeserializeOwned + Serialize>(
        &self,
        key: &str,
        fresh: impl Fn() -> T,
        mut change: impl FnMut(&mut T) -> ApiResult<()>,
    ) -> ApiResult<T> {
        loop {
            if let Some(done) = self.update(key, &mut change)? {
                return Ok(done);
            }
            let mut record = fresh();
            change(&mut record)?;
            if self.create(key, &record)? {
                return Ok(record);
            }
        }
    }

    /// The keys directly under `prefix` (a record per key).
    pub fn list(&self, prefix: &str) -> ApiResult<Vec<String>> {
        Ok(self.store.list(prefix)?)
    }
}

fn encode<T: Serialize>(record: &T) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| ApiError::internal(format!("encoding a record failed: {e}")))
}

/// 32 random hex digits, as MLflow's run and model ids.
pub fn random_id() -> ApiResult<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("no randomness for an id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Milliseconds since the epoch, as MLflow's timestamps.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `name` as one key segment: MLflow names (an experiment's) may hold
/// any character, keys may not.
pub fn hex_segment(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}
