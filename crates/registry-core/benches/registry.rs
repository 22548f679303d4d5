//! Registry hot paths: list 10 / 1,000 / 10,000 versions (the version
//! list, and the catalog with every version's scores), resolve an alias at
//! each size, save and load a 1 MB model. Run with `cargo bench -p
//! registry-core`. Building the 10,000-version registry takes ~15 minutes
//! (every save fsyncs and rewrites the catalog); it is kept in
//! `target/bench-registries/` and reused by later runs.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use registry_core::{AliasName, ModelInfo, ModelVersion, Registry};
use std::hint::black_box;

fn build(n: u64) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    for i in 0..n {
        let v = ModelVersion::new(1, i / 1000, i % 1000);
        reg.save_model(&v, &vec![0u8; 64], info(i)).unwrap();
    }
    (dir, reg)
}

/// Trainer-like metadata: scores, a few numeric metrics, data, a tag.
fn info(i: u64) -> ModelInfo {
    let score = 0.7 + (i % 100) as f64 / 1000.0;
    let mut info = ModelInfo {
        model_type: Some("sklearn".into()),
        test_score: Some(score),
        cv_score: Some(score - 0.01),
        ..ModelInfo::default()
    };
    for (k, v) in [("accuracy", score), ("f1", score - 0.02), ("n_train", 10_201.0)] {
        info.metrics.insert(k.into(), serde_json::json!(v));
    }
    info.lineage.data = Some(registry_core::DataFingerprint {
        name: "rotten_tomatoes_snippets.tsv".into(),
        sha256: "7dc937f571c94236e247ceced16e6ca0db8638a2c974f05cf46e8472e6e6cff1".into(),
        rows: 12_752,
        path: Some("fixtures/rotten_tomatoes_snippets.tsv".into()),
        size: Some(1_650_000),
    });
    info.tags.insert("team".into(), "search".into());
    info
}

/// A registry of `n` versions kept under `target/bench-registries/` (built
/// on the first run).
fn kept(n: u64) -> Registry {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench-registries")
        .join(n.to_string());
    let reg = Registry::open(&root).unwrap();
    let have = reg.list_versions().unwrap().len() as u64;
    for i in have..n {
        let v = ModelVersion::new(1, i / 1000, i % 1000);
        reg.save_model(&v, &vec![0u8; 64], info(i)).unwrap();
    }
    reg
}

fn bench(c: &mut Criterion) {
    let sizes = [(10, kept(10)), (1_000, kept(1_000)), (10_000, kept(10_000))];
    let mut group = c.benchmark_group("registry");
    for (n, reg) in &sizes {
        let n = *n;
        group.bench_with_input(BenchmarkId::new("list_versions", n), reg, |b, reg| {
            b.iter(|| black_box(reg.list_versions().unwrap()))
        });
        // Every version with its scores, data and tags: what `list` shows.
        group.bench_with_input(BenchmarkId::new("catalog", n), reg, |b, reg| {
            b.iter(|| black_box(reg.catalog().unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("resolve_latest", n), reg, |b, reg| {
            b.iter(|| black_box(reg.resolve(&AliasName::latest()).unwrap()))
        });
    }

    let (_dir, reg) = build(0);
    let model: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut next = 0u64;
    group.bench_function("save_1mb", |b| {
        b.iter(|| {
            next += 1;
            reg.save_model(&ModelVersion::new(2, 0, next), &model, ModelInfo::default())
                .unwrap()
        })
    });
    group.bench_function("get_latest_model_1mb", |b| {
        b.iter(|| black_box(reg.get_latest_model::<Vec<u8>>().unwrap()))
    });
    group.finish();

    // The two artifact digests, on the size of the default text model.
    let model: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut digests = c.benchmark_group("digest_2mb");
    digests.throughput(criterion::Throughput::Bytes(model.len() as u64));
    digests.bench_function("sha256", |b| {
        b.iter(|| black_box(<sha2::Sha256 as sha2::Digest>::digest(&model)))
    });
    digests.bench_function("blake3", |b| b.iter(|| black_box(blake3::hash(&model))));
    digests.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
