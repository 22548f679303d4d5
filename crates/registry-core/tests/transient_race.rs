//! Transient objects (pins) made and removed by many threads at once, on
//! disk: each removal takes away the directories it leaves empty, `pins/`
//! itself included, while others are making theirs under it. Every create
//! and delete must succeed (beside_others.rs once saw a save fail with
//! "pins: File exists" when `pins/` was made by one thread and removed by
//! another between a third's mkdir and its check).

use registry_core::store::{FsStore, Store};
use std::time::{Duration, Instant};

#[test]
fn pins_made_and_removed_at_once_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path().join("registry"));
    let deadline = Instant::now() + Duration::from_secs(3);
    let rounds: Vec<u64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        // Two threads share each version's directory.
                        let key = format!("pins/1.0.{}/t{t}-{n}.json", t % 4);
                        store
                            .create_transient(&key, b"{}")
                            .unwrap_or_else(|e| panic!("create {key}: {e}"));
                        store
                            .delete_transient(&key)
                            .unwrap_or_else(|e| panic!("delete {key}: {e}"));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert!(rounds.iter().all(|&n| n > 10), "{rounds:?}");
    assert!(store.list("pins/").unwrap().is_empty());
}
