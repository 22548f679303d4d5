//! Whole-process crash injection: the real `trainer` (on small data),
//! `registry promote` and `registry add` (a three-file directory into a
//! named model) are killed with SIGKILL at random moments, 300 times. After
//! every kill `registry verify` passes for both models, every listed
//! version loads through `predictor`, `latest` is a complete version, and
//! no version that a finished run reported is missing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{bin, workspace};

/// xorshift64*: deterministic, so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Runs `cmd`, killing it after `after` if it is still running; returns its
/// stdout if it finished on its own with success.
fn run_or_kill(mut cmd: Command, after: Duration) -> Option<String> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + after;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned());
        }
        if Instant::now() >= deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn killed_trainers_and_promotions_never_break_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry");
    let tiny = workspace().join("fixtures/tiny.tsv");
    let mut rng = Rng(0xC0FF_EE00_1234_5678);

    // How long an uninterrupted training takes, to aim the kills.
    let start = Instant::now();
    let first = run_or_kill(
        {
            let mut c = Command::new(bin("trainer"));
            c.arg("--data")
                .arg(&tiny)
                .args(["--folds", "3", "--json"])
                .env("MODELREG_DIR", &reg);
            c
        },
        Duration::from_secs(120),
    )
    .expect("an uninterrupted training succeeds");
    let train_time = start.elapsed();
    let mut reported: Vec<String> = Vec::new();
    let v: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    reported.push(v["version"].as_str().unwrap().to_string());

    // A model directory for `registry add`: big enough that a kill lands
    // inside the save now and then.
    let model_dir = dir.path().join("onnx-model");
    std::fs::create_dir_all(model_dir.join("tokenizer")).unwrap();
    for (name, size) in [
        ("model.onnx", 400_000),
        ("config.json", 2_000),
        ("tokenizer/vocab.json", 100_000),
    ] {
        std::fs::write(model_dir.join(name), vec![b'x'; size]).unwrap();
    }
    let add_cmd = || {
        let mut c = Command::new(bin("registry"));
        c.args(["--json", "--model", "onnx", "add"])
            .arg(&model_dir)
            .env("MODELREG_DIR", &reg);
        c
    };
    let start = Instant::now();
    let first = run_or_kill(add_cmd(), Duration::from_secs(60)).expect("an uninterrupted add succeeds");
    let add_time = start.elapsed();
    let v: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    let mut added: Vec<String> = vec![v["version"].as_str().unwrap().to_string()];

    let (mut kills, mut completed, mut round) = (0, 0, 0);
    while kills < 300 {
        round += 1;
        assert!(round < 1000, "only {kills} kills in {round} rounds");
        let promote = round % 4 == 2;
        let add = round % 4 == 3;
        let cmd = if add {
            add_cmd()
        } else if promote {
            let target = reported[rng.below(reported.len() as u64) as usize].clone();
            let mut c = Command::new(bin("registry"));
            c.args(["promote", &target, "--to", "production"])
                .env("MODELREG_DIR", &reg);
            c
        } else {
            let mut c = Command::new(bin("trainer"));
            c.arg("--data")
                .arg(&tiny)
                .args(["--folds", "3", "--json"])
                .env("MODELREG_DIR", &reg);
            c
        };
        // Aim anywhere in a run, with extra weight on its last part (the save).
        let span = if add {
            add_time
        } else if promote {
            Duration::from_millis(4)
        } else {
            train_time
        };
        let after = span.mul_f64(rng.below(1200) as f64 / 1000.0);
        match run_or_kill(cmd, after) {
            Some(out) if add => {
                completed += 1;
                let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                added.push(v["version"].as_str().unwrap().to_string());
            }
            Some(out) => {
                completed += 1;
                if !promote {
                    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                    reported.push(v["version"].as_str().unwrap().to_string());
                }
            }
            None => kills += 1,
        }

        for model in ["default", "onnx"] {
            let verify = Command::new(bin("registry"))
                .args(["--model", model, "verify"])
                .env("MODELREG_DIR", &reg)
                .output()
                .unwrap();
            assert!(
                verify.status.success(),
                "round {round}: verify of model {model} failed:\n{}{}",
                String::from_utf8_lossy(&verify.stdout),
                String::from_utf8_lossy(&verify.stderr)
            );
        }
        {
            let list = Command::new(bin("registry"))
                .args(["--model", "onnx", "list", "--json"])
                .env("MODELREG_DIR", &reg)
                .output()
                .unwrap();
            let listed: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
            for v in &added {
                assert!(
                    listed.iter().any(|l| l["version"] == v.as_str()),
                    "round {round}: added version {v} is missing"
                );
            }
        }
        let list = Command::new(bin("registry"))
            .args(["list", "--json"])
            .env("MODELREG_DIR", &reg)
            .output()
            .unwrap();
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
        let listed: Vec<&str> = listed.iter().map(|v| v["version"].as_str().unwrap()).collect();
        for v in &reported {
            assert!(
                listed.contains(&v.as_str()),
                "round {round}: reported version {v} is missing"
            );
        }
        // latest loads and is one of the listed versions; so does production.
        for args in [vec!["--json", "x"], vec!["--alias", "production", "--json", "x"]] {
            let out = Command::new(bin("predictor"))
                .args(&args)
                .env("MODELREG_DIR", &reg)
                .output()
                .unwrap();
            if args.contains(&"production") && !out.status.success() {
                continue; // not promoted yet
            }
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert!(listed.contains(&answer["version"].as_str().unwrap()), "round {round}");
        }
        // Every few rounds, every listed version loads.
        if round % 50 == 49 {
            for v in &listed {
                let out = Command::new(bin("predictor"))
                    .args(["--version", v, "x"])
                    .env("MODELREG_DIR", &reg)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "round {round}: version {v} does not load");
            }
        }
    }
    eprintln!(
        "{kills} kills, {completed} runs completed, {} versions trained, {} added",
        reported.len(),
        added.len()
    );
    assert!(added.len() > 1, "no interrupted-or-not `registry add` ever finished");
    for model in ["default", "onnx"] {
        let repaired = Command::new(bin("registry"))
            // Every writer is dead, so no grace period is needed.
            .args(["--model", model, "verify", "--repair", "--older-than", "0"])
            .env("MODELREG_DIR", &reg)
            .output()
            .unwrap();
        assert!(repaired.status.success());
        let said = String::from_utf8_lossy(&repaired.stdout);
        assert!(said.contains("0 problems, 0 leftovers"), "model {model}: {said}");
    }
    // Every added version comes back out byte for byte.
    let out = dir.path().join("fetched");
    let fetched = Command::new(bin("registry"))
        .args(["--model", "onnx", "get", "latest", "--out"])
        .arg(&out)
        .env("MODELREG_DIR", &reg)
        .output()
        .unwrap();
    assert!(fetched.status.success());
    assert_eq!(
        std::fs::read(out.join("tokenizer/vocab.json")).unwrap(),
        vec![b'x'; 100_000]
    );
}
