//! Whole-process crash injection: the real `trainer` (on small data) and
//! `registry promote` are killed with SIGKILL at random moments, 300 times.
//! After every kill `registry verify` passes, every listed version loads
//! through `predictor`, `latest` is a complete version, and no version that
//! a finished run reported is missing.

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

    let (mut kills, mut completed, mut round) = (0, 0, 0);
    while kills < 300 {
        round += 1;
        assert!(round < 1000, "only {kills} kills in {round} rounds");
        let promote = round % 3 == 2;
        let cmd = if promote {
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
        let span = if promote { Duration::from_millis(4) } else { train_time };
        let after = span.mul_f64(rng.below(1200) as f64 / 1000.0);
        match run_or_kill(cmd, after) {
            Some(out) => {
                completed += 1;
                if !promote {
                    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                    reported.push(v["version"].as_str().unwrap().to_string());
                }
            }
            None => kills += 1,
        }

        let verify = Command::new(bin("registry"))
            .arg("verify")
            .env("MODELREG_DIR", &reg)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "round {round}: verify failed:\n{}",
            String::from_utf8_lossy(&verify.stdout)
        );
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
        "{kills} kills, {completed} runs completed, {} versions reported",
        reported.len()
    );
    let repaired = Command::new(bin("registry"))
        // Every writer is dead, so no grace period is needed.
        .args(["verify", "--repair", "--older-than", "0"])
        .env("MODELREG_DIR", &reg)
        .output()
        .unwrap();
    assert!(repaired.status.success());
    assert!(String::from_utf8_lossy(&repaired.stdout).contains("0 problems, 0 leftovers"));
}
