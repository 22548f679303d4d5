//! Successive halving (scikit-learn's `HalvingGridSearchCV`): every
//! candidate is cross-validated on a small share of the training rows, the
//! best third go on to three times the rows, and so on until the last
//! round uses all of them. Each round costs about the same, so the search
//! costs a few full-data rounds instead of one per candidate.
//!
//! The shares are nested prefixes of one seeded, stratified order of the
//! training rows, so a round's rows include the previous round's, and the
//! same data and seed give the same rounds at any thread count. With a
//! time budget the rounds are measured, and a round keeps only as many
//! candidates as its projected cost allows (at least one); what it drops
//! is recorded.

use std::time::{Duration, Instant};

use crate::crossval::{CvData, cross_validate};
use crate::error::Result;
use crate::grid::Candidate;
use crate::split::{SplitMix, by_class};

/// How many candidates each round keeps, as a divisor.
pub const FACTOR: usize = 3;
/// The fewest training rows a first round may use.
pub const MIN_ROWS: usize = 1500;

/// The rounds for `n_candidates` on `n_rows`: (rows, candidates) each, the
/// last on all rows. Fewer rounds when the first would be under
/// `MIN_ROWS` rows.
pub(crate) fn plan(n_candidates: usize, n_rows: usize) -> Vec<(usize, usize)> {
    let mut rounds = 1;
    while FACTOR.pow(rounds as u32) <= n_candidates && n_rows / FACTOR.pow(rounds as u32) >= MIN_ROWS {
        rounds += 1;
    }
    (0..rounds)
        .map(|i| {
            let rows = n_rows / FACTOR.pow((rounds - 1 - i) as u32);
            let candidates = n_candidates.div_ceil(FACTOR.pow(i as u32));
            (rows, candidates)
        })
        .collect()
}

/// The training rows in a seeded order whose every prefix keeps the label
/// proportions: `share(n)` takes the first `n`.
pub(crate) struct NestedRows {
    by_class: Vec<Vec<usize>>,
    total: usize,
}

impl NestedRows {
    pub(crate) fn new(y: &[u32], rows: &[usize], k: usize, seed: u64) -> NestedRows {
        let mut rng = SplitMix(seed ^ 0x4A1F_5EED);
        let mut by_class = by_class(y, rows, k);
        for class in &mut by_class {
            rng.shuffle(class);
        }
        NestedRows {
            by_class,
            total: rows.len(),
        }
    }

    pub(crate) fn share(&self, n: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .by_class
            .iter()
            .flat_map(|class| {
                let take = ((class.len() * n) as f64 / self.total as f64).round() as usize;
                class[..take.min(class.len())].iter().copied()
            })
            .collect();
        out.sort_unstable();
        out
    }
}

/// One round as the report records it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Round {
    pub rows: usize,
    pub candidates: usize,
    pub seconds: f64,
}

/// A candidate left out of the next round, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Eliminated {
    /// Index in the report's candidates.
    pub candidate: usize,
    /// The last round (0-based) it was evaluated in.
    pub round: usize,
    /// `"score"` (not among the best of its round) or `"time budget"`.
    pub reason: String,
}

/// What a halving search found: every candidate's fold scores and the rows
/// they were measured on, the finalists (evaluated on all rows), the
/// rounds and who left when.
pub(crate) struct Outcome {
    pub scores: Vec<Option<(Vec<f64>, usize)>>,
    pub finalists: Vec<usize>,
    pub rounds: Vec<Round>,
    pub eliminated: Vec<Eliminated>,
    /// What the winner's refit on all rows should take, from its cost in
    /// its last round.
    pub refit_seconds: f64,
}

/// Candidates ordered best first: mean fold score, then the simpler one.
pub(crate) fn best_first(candidates: &[Candidate], members: &[usize], means: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| {
        means[b].total_cmp(&means[a]).then_with(|| {
            let (sa, sb) = (candidates[members[a]].simplicity(), candidates[members[b]].simplicity());
            sa.iter()
                .zip(&sb)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    order.into_iter().map(|i| members[i]).collect()
}

/// How a candidate's cost grows with its rows: as rows^GROWTH. The dual
/// solver's passes grow a little with the rows, and so does each pass's
/// cost per non-zero (docs/PERFORMANCE.md, "Where the fits' time goes"):
/// on RT + UCI + tweets an NB-LR fit cost 4.2x for 3x the rows from 2,740
/// to 8,220 and 4.0x from 8,220 to 24,663, so 3^1.3 = 4.2. (Linear times
/// 1.3, as this was, gave 3.9x for one round and 11.7x for two, where
/// 17x was measured: the estimate said half the time left.)
const GROWTH: f64 = 1.3;

/// What the search should take from the start of a round on, in seconds
/// of wall time: that round, and everything after it (its later rounds
/// and the winner's refit on all rows).
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    pub this_round: f64,
    pub after: f64,
}

/// The costs of one round, projected onto the rounds after it: each
/// candidate's next cost is its own cost this round (measured per
/// candidate: the heavy ones are usually the survivors) scaled by the
/// rows, a little more than linearly, spread over the threads. The time
/// budget and the progress line's estimate both come from here.
struct Costs<'a> {
    members: &'a [usize],
    seconds: &'a [f64],
    rows_now: usize,
    threads: f64,
}

impl Costs<'_> {
    /// Seconds of wall time candidate `c` should take on `rows` rows.
    fn wall(&self, c: usize, rows: usize) -> f64 {
        let own = self
            .members
            .iter()
            .position(|&m| m == c)
            .map_or(0.0, |i| self.seconds[i]);
        own * (rows as f64 / self.rows_now as f64).powf(GROWTH) / self.threads
    }

    /// The winner's refit: one of its `folds` fold fits (each trained on
    /// all but one fold of its rows), on all rows, on one thread.
    fn refit(&self, winner: usize, all_rows: usize, folds: usize) -> f64 {
        let fold_share = folds as f64 / (folds.max(2) - 1) as f64;
        self.wall(winner, all_rows) / folds as f64 * self.threads * fold_share.powf(GROWTH)
    }

    /// From round `next` on, the best `keep` of `ranked` going on (and
    /// the best of them as later rounds plan).
    #[allow(clippy::too_many_arguments)]
    fn projection(
        &self,
        ranked: &[usize],
        keep: usize,
        plan: &[(usize, usize)],
        next: usize,
        all_rows: usize,
        folds: usize,
    ) -> Projection {
        let rows_of = |j: usize| if j + 1 == plan.len() { all_rows } else { plan[j].0 };
        let round = |j: usize| -> f64 {
            ranked[..plan[j].1.min(keep).min(ranked.len())]
                .iter()
                .map(|&c| self.wall(c, rows_of(j)))
                .sum()
        };
        let later: f64 = (next + 1..plan.len()).map(round).sum();
        Projection {
            this_round: round(next),
            after: later + ranked.first().map_or(0.0, |&w| self.refit(w, all_rows, folds)),
        }
    }
}

/// [`Outcome::refit_seconds`] from one cross-validation's `seconds` (per
/// member of `members`) on `rows_now` rows.
pub(crate) fn refit_seconds(
    members: &[usize],
    seconds: &[f64],
    rows_now: usize,
    winner: usize,
    folds: usize,
    threads: usize,
) -> f64 {
    let costs = Costs {
        members,
        seconds,
        rows_now,
        threads: threads.max(1) as f64,
    };
    costs.refit(winner, rows_now, folds)
}

/// Runs the rounds of [`plan`] on `rows`. `on_round` hears of each round
/// as it starts (its number, rows and candidates, and from the second on
/// what the rest should take).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    data: &CvData<'_>,
    rows: &[usize],
    folds: usize,
    seed: u64,
    threads: usize,
    budget: Option<(Instant, Duration)>,
    on_round: &(dyn Fn(usize, usize, usize, Option<Projection>) + Sync),
    on_fit: &(dyn Fn() + Sync),
) -> Result<Outcome> {
    let n = data.candidates.len();
    let plan = plan(n, rows.len());
    let order = NestedRows::new(data.y, rows, data.k, seed);
    let mut members: Vec<usize> = (0..n).collect();
    let mut out = Outcome {
        scores: vec![None; n],
        finalists: Vec::new(),
        rounds: Vec::new(),
        eliminated: Vec::new(),
        refit_seconds: 0.0,
    };
    let mut projection = None;
    for (i, &(round_rows, _)) in plan.iter().enumerate() {
        let last = i + 1 == plan.len();
        let share = if last { rows.to_vec() } else { order.share(round_rows) };
        on_round(i, share.len(), members.len(), projection);
        let started = Instant::now();
        let (scores, costs) = cross_validate(data, &members, &share, folds, seed, threads, on_fit)?;
        let seconds = started.elapsed().as_secs_f64();
        out.rounds.push(Round {
            rows: share.len(),
            candidates: members.len(),
            seconds,
        });
        let means: Vec<f64> = scores.iter().map(|s| s.iter().sum::<f64>() / s.len() as f64).collect();
        for (&c, s) in members.iter().zip(scores) {
            out.scores[c] = Some((s, share.len()));
        }
        let ranked = best_first(data.candidates, &members, &means);
        if last {
            out.refit_seconds = refit_seconds(&members, &costs, share.len(), ranked[0], folds, threads);
            out.finalists = ranked;
            break;
        }
        let mut keep = plan[i + 1].1.min(ranked.len());
        let estimate = Costs {
            members: &members,
            seconds: &costs,
            rows_now: share.len(),
            threads: threads.max(1) as f64,
        };
        if let Some((start, budget)) = budget {
            let next_rows = if i + 2 == plan.len() { rows.len() } else { plan[i + 1].0 };
            let refit = estimate.refit(ranked[0], rows.len(), folds);
            let left = budget.as_secs_f64() - start.elapsed().as_secs_f64() - refit;
            let mut affordable = 0;
            let mut spent = 0.0;
            for &c in &ranked[..keep] {
                spent += estimate.wall(c, next_rows);
                if spent > left {
                    break;
                }
                affordable += 1;
            }
            if affordable < keep {
                for &c in &ranked[affordable.max(1).min(keep)..keep] {
                    out.eliminated.push(Eliminated {
                        candidate: c,
                        round: i,
                        reason: "time budget".into(),
                    });
                }
                if affordable == 0 {
                    // Not even one more round fits: the best so far wins.
                    for &c in &ranked[1..] {
                        if !out.eliminated.iter().any(|e| e.candidate == c) {
                            out.eliminated.push(Eliminated {
                                candidate: c,
                                round: i,
                                reason: "score".into(),
                            });
                        }
                    }
                    out.refit_seconds = estimate.refit(ranked[0], rows.len(), folds);
                    out.finalists = vec![ranked[0]];
                    return Ok(out);
                }
                keep = affordable;
            }
        }
        projection = Some(estimate.projection(&ranked, keep, &plan, i + 1, rows.len(), folds));
        for &c in &ranked[keep..] {
            if !out.eliminated.iter().any(|e| e.candidate == c) {
                out.eliminated.push(Eliminated {
                    candidate: c,
                    round: i,
                    reason: "score".into(),
                });
            }
        }
        members = ranked[..keep].to_vec();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_end_on_all_rows_and_keep_a_third() {
        assert_eq!(plan(17, 90_000), vec![(10_000, 17), (30_000, 6), (90_000, 2)]);
        assert_eq!(plan(17, 9_000), vec![(3_000, 17), (9_000, 6)]);
        assert_eq!(plan(17, 2_000), vec![(2_000, 17)]);
        assert_eq!(plan(1, 90_000), vec![(90_000, 1)]);
        assert_eq!(plan(3, 90_000), vec![(30_000, 3), (90_000, 1)]);
    }

    #[test]
    fn shares_are_nested_and_stratified() {
        let y: Vec<u32> = (0..1000).map(|i| (i % 4 == 0) as u32).collect();
        let rows: Vec<usize> = (0..1000).collect();
        let order = NestedRows::new(&y, &rows, 2, 7);
        let small = order.share(100);
        let big = order.share(400);
        assert!(small.iter().all(|r| big.contains(r)));
        assert_eq!(small.iter().filter(|&&r| y[r] == 1).count(), 25);
        assert_eq!(order.share(1000).len(), 1000);
    }
}
