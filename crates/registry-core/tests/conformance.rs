//! The same store conformance suite against every store in this crate.

use registry_core::store::{FsStore, MemoryStore, conformance};

#[test]
fn memory_store_conforms() {
    conformance::check_store(&MemoryStore::new());
}

#[test]
fn fs_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::check_store(&FsStore::new(dir.path().join("registry")));
}

#[test]
fn fs_store_leaves_no_temporary_files_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path());
    conformance::check_store(&store);
    let mut leftovers = Vec::new();
    for entry in walk(dir.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            leftovers.push(entry);
        }
    }
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn fs_store_refuses_symlinks_below_its_root() {
    use registry_core::store::{Store, StoreError};
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.json"), b"secret").unwrap();
    let root = dir.path().join("registry");
    std::fs::create_dir_all(root.join("versions")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("versions/1.0.0")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), root.join("leak.json")).unwrap();
    let store = FsStore::new(&root);
    assert!(matches!(
        store.read("versions/1.0.0/secret.json"),
        Err(StoreError::Unsafe { .. })
    ));
    assert!(matches!(store.read("leak.json"), Err(StoreError::Unsafe { .. })));
    assert!(matches!(
        store.create("versions/1.0.0/model.bin", b"x"),
        Err(StoreError::Unsafe { .. })
    ));
    assert!(
        !outside.path().join("model.bin").exists(),
        "nothing written outside the root"
    );
    assert!(store.list("versions/").unwrap().is_empty(), "links are not listed");
}
