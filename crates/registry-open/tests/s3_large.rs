//! Large files on S3 (moto, as tests/s3.rs): a 120 MiB file is uploaded
//! in parts (5 MiB each here), read back and copied in blocks, and a
//! network cut in the middle of its upload leaves no partial version.
#![cfg(feature = "s3")]

#[path = "cutting_proxy.rs"]
mod cutting_proxy;

use cutting_proxy::{Cut, CuttingProxy};
use registry_core::local_files::{collect, export};
use registry_core::{AliasName, ModelInfo, ModelVersion, Registry, RegistryError};
use registry_open::s3::{S3Config, S3Store};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;
use test_support::{s3_bucket as bucket, s3_endpoint as endpoint, unique};

const SIZE: usize = 120 << 20;
const PART: usize = 5 << 20;

fn config(prefix: &str, endpoint: &str, max_retries: usize) -> S3Config {
    S3Config {
        bucket: bucket(),
        prefix: prefix.to_string(),
        endpoint: Some(endpoint.to_string()),
        max_retries,
        request_deadline: Duration::from_secs(30),
        multipart_from: 8 << 20,
        part_size: PART,
    }
}

fn registry(prefix: &str, endpoint: &str, max_retries: usize) -> Registry<S3Store> {
    Registry::open_store(S3Store::connect(config(prefix, endpoint, max_retries)).unwrap()).unwrap()
}

fn v(text: &str) -> ModelVersion {
    text.parse().unwrap()
}

/// `size` bytes that do not repeat at any part boundary, written in blocks.
fn big_file(dir: &Path, size: usize) -> PathBuf {
    let path = dir.join("weights.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..size / block.len() {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
    path
}

fn sha256_of(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut block).unwrap();
        if n == 0 {
            break;
        }
        h.update(&block[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag moto gives the object (moto checks no signature).
fn etag(prefix: &str, key: &str) -> String {
    let address = endpoint().trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "HEAD /{}/{prefix}/{key} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
        bucket()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("etag:")
                .map(|v| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_else(|| panic!("no ETag in {answer}"))
}

#[test]
fn a_large_file_goes_up_in_parts_and_comes_back_whole() {
    if !test_support::s3_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = big_file(tmp.path(), SIZE);
    let prefix = unique("large");
    let reg = registry(&prefix, &endpoint(), 2);
    let saved = reg
        .save_files(&v("1.0.0"), &collect(&path).unwrap(), ModelInfo::default())
        .unwrap();
    assert_eq!(saved.files[0].size, SIZE as u64);
    assert_eq!(saved.files[0].sha256, sha256_of(&path));
    // The multipart form of an ETag: the digest of the parts' digests, and
    // their number.
    let tag = etag(&prefix, "versions/1.0.0/weights.bin");
    assert!(tag.ends_with(&format!("-{}", SIZE.div_ceil(PART))), "{tag}");
    assert!(reg.verify().unwrap().is_ok());

    let out = tmp.path().join("back.bin");
    let md = reg.metadata(&v("1.0.0")).unwrap();
    export(&reg, &md, &out, false).unwrap();
    assert_eq!(sha256_of(&out), saved.files[0].sha256);

    // Copied down to a local registry, and from there up under another
    // prefix: both streamed, both whole.
    let local = Registry::open(tmp.path().join("local")).unwrap();
    let report = registry_core::copy::copy(&reg, &local, false).unwrap();
    assert_eq!(report.copied, vec![v("1.0.0")]);
    assert!(local.verify().unwrap().is_ok());
    let again = registry(&unique("large-copy"), &endpoint(), 2);
    registry_core::copy::copy(&local, &again, false).unwrap();
    assert!(again.verify().unwrap().is_ok());
    assert_eq!(again.metadata(&v("1.0.0")).unwrap().metadata_sha256, md.metadata_sha256);
}

#[test]
fn a_network_cut_in_the_middle_of_an_upload_leaves_no_partial_version() {
    if !test_support::s3_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // 40 MiB: eight parts, enough requests to cut between.
    let path = big_file(tmp.path(), 40 << 20);
    let files = collect(&path).unwrap();
    let save_through = |proxy: &CuttingProxy, prefix: &str| -> Result<(), RegistryError> {
        registry(prefix, &proxy.address, 0)
            .save_files(&v("1.0.1"), &files, ModelInfo::default())
            .map(|_| ())
    };
    let measure = CuttingProxy::start(&endpoint(), i64::MAX, Cut::BeforeRequest);
    let prefix = unique("large-cut-measure");
    save_through(&measure, &prefix).unwrap();
    let total = measure.sent.load(Ordering::SeqCst);
    assert!(total >= 12, "a save of eight parts took only {total} requests");
    let mut failed = 0;
    let mut aborted = 0;
    // Cuts before the claim, at the first part, among the parts (a third of
    // the way: the save's bookkeeping after its commit is the last third),
    // and near the end (the commit and the bookkeeping after it: latest,
    // its pin, the events).
    for budget in [1, 4, total / 3, total - 6, total - 4, total - 2] {
        for cut in [Cut::BeforeRequest, Cut::BeforeAnswer] {
            let case = format!("{cut:?} at request {budget} of {total}");
            let prefix = unique(&format!("large-cut{budget}"));
            let direct = registry(&prefix, &endpoint(), 2);
            let proxy = CuttingProxy::start(&endpoint(), budget, cut);
            let outcome = save_through(&proxy, &prefix);
            let visible = direct.list_versions().unwrap().contains(&v("1.0.1"));
            if outcome.is_err() {
                failed += 1;
            }
            if visible {
                // The commit reached the server: the version is whole.
                let md = direct.metadata(&v("1.0.1")).unwrap();
                assert_eq!(md.files[0].sha256, sha256_of(&path), "{case}");
            }
            assert!(direct.verify().unwrap().is_ok(), "{case}");
            aborted += direct.repair_older_than(Duration::ZERO).unwrap().uploads_aborted.len();
            assert!(direct.verify().unwrap().leftovers.is_empty(), "{case}");
            let again = direct.repair_older_than(Duration::ZERO).unwrap();
            assert!(again.uploads_aborted.is_empty(), "{case}: {again:?}");
            match direct.save_files(&v("1.0.1"), &files, ModelInfo::default()) {
                Ok(_) | Err(RegistryError::VersionExists { complete: true, .. }) => {}
                Err(e) => panic!("{case}: the retried save failed: {e}"),
            }
            assert_eq!(
                direct.resolve(&AliasName::latest()).unwrap().version,
                v("1.0.1"),
                "{case}"
            );
            assert!(direct.verify().unwrap().is_ok(), "{case}");
        }
    }
    assert!(
        failed >= 8,
        "only {failed} of 12 cut saves failed: the cuts miss the upload"
    );
    // Cut among the parts, the upload's abort is cut too: repair aborts it.
    assert!(aborted >= 2, "repair aborted only {aborted} uploads of cut saves");
}

/// A save cut off in the middle of its parts: the upload was begun and
/// never completed nor aborted (the abort was cut too), as a killed
/// writer leaves it.
fn leave_an_unfinished_upload(prefix: &str, files: &[registry_core::local_files::LocalFile]) {
    let measure = CuttingProxy::start(&endpoint(), i64::MAX, Cut::BeforeRequest);
    registry(&unique("uploads-measure"), &measure.address, 0)
        .save_files(&v("1.0.0"), files, ModelInfo::default())
        .unwrap();
    // A third of the way through: among the parts (eight of them), after
    // the upload began and well before the commit (the save makes a dozen
    // more requests after it: latest, its pin, the events).
    let third = measure.sent.load(Ordering::SeqCst) / 3;
    let proxy = CuttingProxy::start(&endpoint(), third, Cut::BeforeRequest);
    let cut = registry(prefix, &proxy.address, 0).save_files(&v("1.0.0"), files, ModelInfo::default());
    assert!(cut.is_err(), "the cut save succeeded");
}

#[test]
fn repair_aborts_the_uploads_of_killed_saves_after_the_grace_period_and_only_its_own() {
    if !test_support::s3_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = big_file(tmp.path(), 40 << 20);
    let files = collect(&path).unwrap();
    let prefix = unique("uploads");
    let other = unique("uploads-other");
    leave_an_unfinished_upload(&prefix, &files);
    leave_an_unfinished_upload(&other, &files);
    let reg = registry(&prefix, &endpoint(), 2);

    // Within the grace period the upload may be a running save's: kept.
    let young = reg.repair_older_than(Duration::from_secs(3600)).unwrap();
    assert!(young.uploads_aborted.is_empty(), "{young:?}");
    let kept: Vec<_> = young.kept.iter().filter(|k| k.contains("(upload ")).collect();
    assert_eq!(kept.len(), 1, "{young:?}");
    assert!(
        kept[0].contains(&format!("/{prefix}/versions/1.0.0/weights.bin")),
        "{kept:?}"
    );

    let swept = reg.repair_older_than(Duration::ZERO).unwrap();
    assert_eq!(swept.uploads_aborted.len(), 1, "{swept:?}");
    assert!(swept.uploads_aborted[0].contains(&format!("/{prefix}/versions/1.0.0/weights.bin (upload ")));
    let again = reg.repair_older_than(Duration::ZERO).unwrap();
    assert!(again.uploads_aborted.is_empty(), "aborted twice: {again:?}");
    assert!(reg.verify().unwrap().is_ok());
    // The save goes through once the leftovers are gone.
    reg.save_files(&v("1.0.0"), &files, ModelInfo::default()).unwrap();
    assert!(reg.verify().unwrap().is_ok());

    // The other registry's upload was not this repair's to abort.
    let neighbour = registry(&other, &endpoint(), 2)
        .repair_older_than(Duration::ZERO)
        .unwrap();
    assert_eq!(neighbour.uploads_aborted.len(), 1, "{neighbour:?}");
}
