//! Progress of large transfers on stderr: a bar (bytes, rate, ETA) on a
//! terminal, a plain line every few seconds otherwise (logs, CI), nothing
//! for files small enough to be done before anyone would look.

use registry_core::progress::{Progress, Transfer};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Files below this move in well under a second on any disk.
const SHOWN_FROM: u64 = 64 << 20;

/// How often a plain line is printed: `MODELREG_PROGRESS_EVERY` seconds
/// (default 5; `0` prints at every block, for tests).
fn every() -> Duration {
    std::env::var("MODELREG_PROGRESS_EVERY")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

/// Installs the binaries' reporter (see [`registry_core::progress`]);
/// `MODELREG_PROGRESS=0` turns it off.
pub fn install() {
    if std::env::var("MODELREG_PROGRESS").is_ok_and(|v| v == "0") {
        return;
    }
    let _ = registry_core::progress::set_reporter(Box::new(Stderr {
        terminal: std::io::stderr().is_terminal(),
        every: every(),
    }));
}

struct Stderr {
    terminal: bool,
    every: Duration,
}

impl Progress for Stderr {
    fn begin(&self, what: &str, total: u64) -> Box<dyn Transfer> {
        if total < SHOWN_FROM {
            return Box::new(Silent);
        }
        if self.terminal {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style);
            }
            bar.set_message(what.to_string());
            return Box::new(Bar(bar));
        }
        let now = Instant::now();
        Box::new(Lines {
            what: what.to_string(),
            total,
            done: 0,
            started: now,
            last: now,
            every: self.every,
            said: false,
        })
    }
}

struct Silent;

impl Transfer for Silent {
    fn advance(&mut self, _: u64) {}
}

struct Bar(indicatif::ProgressBar);

impl Transfer for Bar {
    fn advance(&mut self, bytes: u64) {
        self.0.inc(bytes);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

struct Lines {
    what: String,
    total: u64,
    done: u64,
    started: Instant,
    last: Instant,
    every: Duration,
    said: bool,
}

impl Transfer for Lines {
    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        let now = Instant::now();
        if now.duration_since(self.last) < self.every || self.done >= self.total {
            return;
        }
        self.last = now;
        self.said = true;
        let seconds = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let rate = self.done as f64 / seconds;
        let eta = (self.total - self.done) as f64 / rate.max(1.0);
        eprintln!(
            "{}: {} of {} ({:.0}%), {}/s, ETA {:.0} s",
            self.what,
            crate::mb(self.done),
            crate::mb(self.total),
            100.0 * self.done as f64 / self.total as f64,
            crate::mb(rate as u64),
            eta
        );
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        // A line at the end only if lines were started: a transfer done
        // within one interval stays silent.
        if self.said {
            let seconds = self.started.elapsed().as_secs_f64();
            let outcome = if self.done >= self.total { "done" } else { "stopped" };
            eprintln!("{}: {outcome}, {} in {seconds:.1} s", self.what, crate::mb(self.done));
        }
    }
}
