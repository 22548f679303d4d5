//! The search's estimate of the time it has left, for progress lines.
//!
//! Fits differ in cost by more than tenfold (a last round's fits on all
//! rows against a first round's on a ninth of them), so counting fits
//! (what the progress line did) said "ETA 1 s" through a last round of
//! 30 s. From the second round of a halving search on, the estimate is
//! what the round's candidates measurably cost in the round before
//! ([`crate::halving::Projection`], which the time budget uses too),
//! corrected by the round's own pace once it runs slower than projected.
//! Before that (a first round, or the full grid's one round) there is
//! nothing measured to project from, and the pace of the fits so far is
//! all there is.

use std::sync::Mutex;
use std::time::Instant;

use crate::halving::Projection;

struct Round {
    started: Instant,
    /// Fits done when it started, and how many it has.
    done_before: usize,
    fits: usize,
    projection: Option<Projection>,
}

pub(crate) struct Eta {
    search_started: Instant,
    round: Mutex<Round>,
}

impl Eta {
    pub(crate) fn new(search_started: Instant) -> Eta {
        Eta {
            search_started,
            round: Mutex::new(Round {
                started: search_started,
                done_before: 0,
                fits: 0,
                projection: None,
            }),
        }
    }

    /// A round of `fits` fits starts, `done` fits into the search.
    pub(crate) fn round(&self, done: usize, fits: usize, projection: Option<Projection>) {
        *self.round.lock().unwrap_or_else(|p| p.into_inner()) = Round {
            started: Instant::now(),
            done_before: done,
            fits,
            projection,
        };
    }

    /// Seconds left, `done` of `total` fits into the search.
    pub(crate) fn seconds_left(&self, done: usize, total: usize) -> Option<f64> {
        let round = self.round.lock().unwrap_or_else(|p| p.into_inner());
        let in_round = done.saturating_sub(round.done_before);
        let elapsed = round.started.elapsed().as_secs_f64();
        // The round's own pace: its time so far over its share done.
        let pace = (in_round > 0 && round.fits > 0).then(|| {
            let share = (in_round as f64 / round.fits as f64).min(1.0);
            elapsed / share * (1.0 - share)
        });
        match round.projection {
            Some(p) => {
                let projected = (p.this_round - elapsed).max(0.0);
                Some(pace.map_or(projected, |pace| pace.max(projected)) + p.after)
            }
            None if done > 0 => {
                let per_fit = self.search_started.elapsed().as_secs_f64() / done as f64;
                Some(per_fit * total.saturating_sub(done) as f64)
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn round_started(ago: f64, fits: usize, projection: Option<Projection>) -> Eta {
        let now = Instant::now();
        let started = now.checked_sub(Duration::from_secs_f64(ago)).unwrap_or(now);
        Eta {
            search_started: started,
            round: Mutex::new(Round {
                started,
                done_before: 0,
                fits,
                projection,
            }),
        }
    }

    fn near(got: Option<f64>, want: f64) {
        let got = got.unwrap();
        assert!((got - want).abs() < 0.1, "{got} against {want}");
    }

    #[test]
    fn a_projected_round_counts_down_and_a_slow_one_is_caught_by_its_pace() {
        let projection = Some(Projection {
            this_round: 10.0,
            after: 5.0,
        });
        // Just started: the projection whole.
        near(round_started(0.0, 10, projection).seconds_left(0, 20), 15.0);
        // 8 s in with 8 of 10 fits done: on schedule, 2 s left in the round.
        near(round_started(8.0, 10, projection).seconds_left(8, 20), 7.0);
        // 8 s in with 2 of 10 done: the round runs at a quarter of the
        // projected pace, and the estimate follows (32 s more).
        near(round_started(8.0, 10, projection).seconds_left(2, 20), 37.0);
    }

    #[test]
    fn without_a_projection_the_pace_of_the_search_so_far_is_used() {
        assert_eq!(round_started(1.0, 10, None).seconds_left(0, 20), None);
        // 4 s for 5 fits: 0.8 s a fit, 15 to go.
        near(round_started(4.0, 10, None).seconds_left(5, 20), 12.0);
    }
}
