//! Registry hot paths: list 10 / 10,000 versions, resolve an alias at both
//! sizes, save and load a 1 MB model. Run with `cargo bench -p registry-core`.
//! Building the 10,000-version registry takes a while (every save fsyncs);
//! it is built once per run.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use registry_core::{AliasName, ModelInfo, ModelVersion, Registry};
use std::hint::black_box;

fn build(n: u64) -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::open(dir.path().join("registry")).unwrap();
    for i in 0..n {
        let v = ModelVersion::new(1, i / 1000, i % 1000);
        reg.save_model(&v, &vec![0u8; 64], ModelInfo::default()).unwrap();
    }
    (dir, reg)
}

fn bench(c: &mut Criterion) {
    let small = build(10);
    let large = build(10_000);
    let mut group = c.benchmark_group("registry");
    for (n, (_, reg)) in [(10, &small), (10_000, &large)] {
        group.bench_with_input(BenchmarkId::new("list_versions", n), reg, |b, reg| {
            b.iter(|| black_box(reg.list_versions().unwrap()))
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
