//! Times registry operations against an S3 server (docs/REMOTE.md).
//!
//! `eval "$(.ci/s3-test-server)"; cargo run --release -p registry-open --features s3 --example s3_timing`
//! Every figure is the median and range of repeated runs, in milliseconds.

use std::time::{Duration, Instant};

use registry_core::{AliasName, Artifact, Encoding, ModelInfo, ModelVersion, Registry};
use registry_open::s3::{S3Config, S3Store};

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:8.2} ms  (min {:.2}, max {:.2}, n={})",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

fn time<T>(runs: usize, mut f: impl FnMut(usize) -> T) -> Vec<Duration> {
    (0..runs)
        .map(|i| {
            let start = Instant::now();
            std::hint::black_box(f(i));
            start.elapsed()
        })
        .collect()
}

fn main() {
    let endpoint = std::env::var("MODELREG_S3_TEST_ENDPOINT").expect("run `eval \"$(.ci/s3-test-server)\"` first");
    let bucket = std::env::var("MODELREG_S3_TEST_BUCKET").unwrap_or_else(|_| "modelreg-test".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let open = |prefix: &str| {
        let mut config = S3Config::from_env(&bucket, prefix, Some(&endpoint));
        config.max_retries = 2;
        Registry::open_store(S3Store::connect(config).unwrap()).unwrap()
    };
    let prefix = format!("timing-{nanos:x}");
    let registry = open(&prefix);
    let model: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let saves = time(20, |i| {
        let v = ModelVersion::new(1, 0, i as u64);
        registry
            .save_artifact(
                &v,
                Artifact {
                    extension: "bin".into(),
                    encoding: Encoding::Raw,
                    bytes: model.clone(),
                },
                ModelInfo::default(),
            )
            .unwrap()
    });
    println!("save 1 MB model          {}", stats(saves));
    let latest = AliasName::latest();
    println!(
        "resolve latest           {}",
        stats(time(50, |_| registry.resolve(&latest).unwrap()))
    );
    println!(
        "load latest 1 MB         {}",
        stats(time(20, |_| registry.load_alias_artifact(&latest).unwrap()))
    );
    println!(
        "list 20 versions         {}",
        stats(time(20, |_| registry.list_versions().unwrap()))
    );

    let many = open(&format!("{prefix}-many"));
    for i in 0..1000 {
        many.save_model_json(&ModelVersion::new(1, 0, i), &i, ModelInfo::default())
            .unwrap();
    }
    println!(
        "list 1,000 versions      {}",
        stats(time(10, |_| many.list_versions().unwrap()))
    );
    println!(
        "first read, new client   {}",
        stats(time(10, |_| open(&prefix).resolve(&latest).unwrap()))
    );
}
