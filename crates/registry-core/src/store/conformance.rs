//! One conformance suite for every [`Store`] implementation.
//!
//! A backend is done when [`check_store`] passes against it: the filesystem
//! and memory stores run it in this crate's tests, and a new backend (S3, …)
//! runs the same function in its own. It panics with a message naming the
//! broken guarantee, like an assertion. Each call uses keys under a fresh
//! random prefix, so it can run against a shared, non-empty store.

use super::{PointerTag, Store, StoreError};

/// Runs every check below against `store`.
pub fn check_store<S: Store + ?Sized>(store: &S) {
    let ns = format!("conformance{}", unique());
    create_and_read(store, &ns);
    create_never_overwrites(store, &ns);
    missing_keys(store, &ns);
    listing(store, &ns);
    groups(store, &ns);
    pointers(store, &ns);
    delete(store, &ns);
    transient(store, &ns);
    ages(store, &ns);
    invalid_keys(store);
    concurrent_creators_one_wins(store, &ns);
    concurrent_swaps_lose_no_update(store, &ns);
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}x{nanos}", std::process::id())
}

/// Created objects read back byte for byte, including empty and binary ones.
pub fn create_and_read<S: Store + ?Sized>(store: &S, ns: &str) {
    let payloads: [&[u8]; 3] = [b"", b"hello", &[0, 255, 10, 13, 0]];
    for (i, bytes) in payloads.iter().enumerate() {
        let key = format!("{ns}/read/obj{i}.bin");
        store.create(&key, bytes).expect("create of a new key succeeds");
        assert_eq!(&store.read(&key).expect("read after create"), bytes);
    }
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let key = format!("{ns}/read/big.bin");
    store.create(&key, &big).expect("create of 3 MB");
    assert!(store.read(&key).expect("read 3 MB") == big, "3 MB object changed");
    for (key, expected) in [
        (key.as_str(), big.as_slice()),
        (&format!("{ns}/read/obj1.bin"), b"hello"),
    ] {
        let mut calls = 0;
        store
            .read_into(key, &mut |bytes| {
                calls += 1;
                assert!(
                    bytes == expected,
                    "read_into of {key} gave other bytes than were written"
                );
            })
            .expect("read_into after create");
        assert_eq!(calls, 1, "read_into must call back exactly once");
    }
}

/// `create` of an existing key fails and leaves the first bytes in place.
pub fn create_never_overwrites<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/immutable/model.bin");
    store.create(&key, b"first").expect("first create");
    match store.create(&key, b"second") {
        Err(StoreError::AlreadyExists { .. }) => {}
        other => panic!("second create of {key} must be AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.read(&key).expect("read"), b"first");
}

pub fn missing_keys<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/missing/nothing.json");
    assert!(
        matches!(
            store.read_into(&key, &mut |_| panic!("no bytes for a missing key")),
            Err(StoreError::NotFound { .. })
        ),
        "read_into of a missing key must be NotFound"
    );
    assert!(matches!(store.read(&key), Err(StoreError::NotFound { .. })));
    assert!(store.read_pointer(&key).expect("read_pointer").is_none());
    assert!(store.list(&format!("{ns}/missing/")).expect("list").is_empty());
}

/// Listing returns exactly the keys under the prefix, sorted.
pub fn listing<S: Store + ?Sized>(store: &S, ns: &str) {
    let keys = [
        "list/b/2/metadata.json",
        "list/a/1/model.bin",
        "list/a/1/metadata.json",
        "list/a/10/metadata.json",
        "list/ab/x.json",
        "listing-not/x.json",
    ];
    for k in keys {
        store.create(&format!("{ns}/{k}"), k.as_bytes()).expect("create");
    }
    let got = store.list(&format!("{ns}/list/")).expect("list");
    let want: Vec<String> = [
        "list/a/1/metadata.json",
        "list/a/1/model.bin",
        "list/a/10/metadata.json",
        "list/ab/x.json",
        "list/b/2/metadata.json",
    ]
    .iter()
    .map(|k| format!("{ns}/{k}"))
    .collect();
    assert_eq!(got, want, "list of a directory-like prefix");
    let got = store.list(&format!("{ns}/list/a")).expect("list");
    assert_eq!(got.len(), 4, "a prefix that ends inside a name: {got:?}");
    let got = store.list(&format!("{ns}/list/a/1/")).expect("list");
    assert_eq!(got.len(), 2, "{got:?}");
}

/// Compare-and-swap: create-if-absent, stale tags conflict, fresh tags win.
pub fn pointers<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/aliases/production.json");
    let t1 = store.swap_pointer(&key, None, b"v1").expect("create pointer");
    let p = store.read_pointer(&key).expect("read").expect("exists");
    assert_eq!(p.bytes, b"v1");
    assert_eq!(p.tag, t1, "swap_pointer returns the tag read_pointer then reports");
    assert!(
        matches!(store.swap_pointer(&key, None, b"x"), Err(StoreError::Conflict { .. })),
        "creating an existing pointer must conflict"
    );
    let t2 = store
        .swap_pointer(&key, Some(&t1), b"v2")
        .expect("swap from current tag");
    assert_ne!(t1, t2);
    assert!(
        matches!(
            store.swap_pointer(&key, Some(&t1), b"v3"),
            Err(StoreError::Conflict { .. })
        ),
        "a stale tag must conflict"
    );
    assert!(matches!(
        store.swap_pointer(&key, Some(&PointerTag("made-up".into())), b"v3"),
        Err(StoreError::Conflict { .. })
    ));
    let p = store.read_pointer(&key).expect("read").expect("exists");
    assert_eq!(p.bytes, b"v2", "a failed swap must change nothing");
    assert_eq!(p.tag, t2);
    // A poller's read: unchanged while it knows the current tag.
    use super::PointerRead;
    assert_eq!(
        store.read_pointer_if_changed(&key, Some(&t2)).expect("poll"),
        PointerRead::Unchanged
    );
    assert_eq!(
        store.read_pointer_if_changed(&key, Some(&t1)).expect("poll"),
        PointerRead::Changed(Some(p.clone()))
    );
    assert_eq!(
        store.read_pointer_if_changed(&key, None).expect("poll"),
        PointerRead::Changed(Some(p))
    );
    let absent = format!("{ns}/aliases/absent.json");
    assert!(matches!(
        store.swap_pointer(&absent, Some(&t2), b"x"),
        Err(StoreError::Conflict { .. })
    ));
    assert!(store.read_pointer(&absent).expect("read").is_none());
    assert_eq!(
        store.read_pointer_if_changed(&absent, Some(&t2)).expect("poll"),
        PointerRead::Changed(None)
    );
}

pub fn delete<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/delete/versions/9.9.9/model.bin");
    store.create(&key, b"x").expect("create");
    store.delete(&key).expect("delete");
    assert!(matches!(store.read(&key), Err(StoreError::NotFound { .. })));
    assert!(store.list(&format!("{ns}/delete/")).expect("list").is_empty());
    assert!(matches!(store.delete(&key), Err(StoreError::NotFound { .. })));
    store.create(&key, b"y").expect("re-create after delete");
}

/// Keys that could escape a root or collide with a store's own files.
pub fn invalid_keys<S: Store + ?Sized>(store: &S) {
    for key in [
        "",
        "../x",
        "/etc/passwd",
        "a//b",
        "a/./b",
        "a/../b",
        ".hidden",
        "a/.tmp-x",
        "a\0b",
        "a\\b",
        "a/b/",
        "caf\u{e9}",
    ] {
        assert!(
            matches!(store.create(key, b"x"), Err(StoreError::InvalidKey { .. })),
            "create({key:?}) must be InvalidKey"
        );
        assert!(
            matches!(store.read(key), Err(StoreError::InvalidKey { .. })),
            "read({key:?}) must be InvalidKey"
        );
        assert!(
            matches!(store.swap_pointer(key, None, b"x"), Err(StoreError::InvalidKey { .. })),
            "swap_pointer({key:?}) must be InvalidKey"
        );
    }
}

/// Of 8 threads creating one key, exactly one succeeds and its bytes stay.
pub fn concurrent_creators_one_wins<S: Store + ?Sized>(store: &S, ns: &str) {
    for round in 0..10 {
        let key = format!("{ns}/race/{round}/model.bin");
        let results: Vec<Result<(), StoreError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let key = &key;
                    s.spawn(move || store.create(key, &vec![i; 4096]))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("no panic")).collect()
        });
        let winners: Vec<usize> = (0..8).filter(|&i| results[i].is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one creator wins: {results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, StoreError::AlreadyExists { .. }), "{e:?}");
            }
        }
        assert_eq!(store.read(&key).expect("read"), vec![winners[0] as u8; 4096]);
    }
}

/// 4 threads × 25 compare-and-swap increments of one counter: no update is
/// lost, and every failure is a reported conflict.
pub fn concurrent_swaps_lose_no_update<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/counter.json");
    store.swap_pointer(&key, None, b"0").expect("create counter");
    let conflicts: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let key = &key;
                s.spawn(move || {
                    let mut conflicts = 0;
                    for _ in 0..25 {
                        loop {
                            let p = store.read_pointer(key).expect("read").expect("exists");
                            let n: u64 = String::from_utf8_lossy(&p.bytes).parse().expect("number");
                            match store.swap_pointer(key, Some(&p.tag), (n + 1).to_string().as_bytes()) {
                                Ok(_) => break,
                                Err(StoreError::Conflict { .. }) => conflicts += 1,
                                Err(e) => panic!("swap failed: {e}"),
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("no panic")).sum()
    });
    let p = store.read_pointer(&key).expect("read").expect("exists");
    assert_eq!(p.bytes, b"100", "lost updates ({conflicts} conflicts were reported)");
}

/// `list_groups` sees one level, optionally filtered by a member object.
pub fn groups<S: Store + ?Sized>(store: &S, ns: &str) {
    for k in [
        "g/1.0.0/metadata.json",
        "g/1.0.0/model.bin",
        "g/1.1.0/model.bin",
        "g/2.0.0/metadata.json",
        "gx/3.0.0/metadata.json",
    ] {
        store.create(&format!("{ns}/{k}"), b"x").expect("create");
    }
    let prefix = format!("{ns}/g/");
    assert_eq!(
        store.list_groups(&prefix, None).expect("groups"),
        ["1.0.0", "1.1.0", "2.0.0"]
    );
    assert_eq!(
        store.list_groups(&prefix, Some("metadata.json")).expect("groups"),
        ["1.0.0", "2.0.0"]
    );
    assert!(
        store
            .list_groups(&format!("{ns}/none/"), None)
            .expect("groups")
            .is_empty()
    );
}

/// A fresh object is young (if the store can tell its age at all), and
/// asking the age of an absent one is `NotFound`.
/// A transient marker (a mover's pin) is exclusive and listed like any
/// object while it exists, and gone once deleted.
fn transient<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/pins/1.0.0/a.json");
    store.create_transient(&key, b"{}").expect("create_transient");
    assert!(
        matches!(
            store.create_transient(&key, b"{}"),
            Err(StoreError::AlreadyExists { .. })
        ),
        "a second create_transient of one key must fail with AlreadyExists"
    );
    assert_eq!(
        store.list(&format!("{ns}/pins/")).unwrap(),
        std::slice::from_ref(&key),
        "a transient object is listed"
    );
    store.delete_transient(&key).expect("delete_transient");
    assert!(
        store.list(&format!("{ns}/pins/")).unwrap().is_empty(),
        "deleted transient objects are not listed"
    );
    store.create_transient(&key, b"{}").expect("created again once deleted");
    store.delete_transient(&key).unwrap();
}

fn ages<S: Store + ?Sized>(store: &S, ns: &str) {
    let key = format!("{ns}/age/object");
    store.create(&key, b"x").expect("create for age");
    match store.age(&key) {
        Ok(Some(age)) => assert!(
            age < std::time::Duration::from_secs(600),
            "a just-created object is {age:?} old"
        ),
        Ok(None) => {}
        Err(e) => panic!("age of an existing object: {e}"),
    }
    if let Ok(Some(_)) = store.age(&key) {
        assert!(
            matches!(
                store.age(&format!("{ns}/age/missing")),
                Err(StoreError::NotFound { .. })
            ),
            "age of a missing object must be NotFound"
        );
    }
}
