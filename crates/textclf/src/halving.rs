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

/// Runs the rounds of [`plan`] on `rows`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    data: &CvData<'_>,
    rows: &[usize],
    folds: usize,
    seed: u64,
    threads: usize,
    budget: Option<(Instant, Duration)>,
    on_round: &(dyn Fn(usize, usize, usize) + Sync),
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
    };
    for (i, &(round_rows, _)) in plan.iter().enumerate() {
        let last = i + 1 == plan.len();
        let share = if last { rows.to_vec() } else { order.share(round_rows) };
        on_round(i, share.len(), members.len());
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
            out.finalists = ranked;
            break;
        }
        let mut keep = plan[i + 1].1.min(ranked.len());
        if let Some((start, budget)) = budget {
            // A candidate's next-round cost is its own cost this round
            // (measured per candidate: the heavy ones are usually the
            // survivors) scaled by the rows, a little more than linearly to
            // be safe, spread over the threads; the winner's refit
            // afterwards costs about one of its fold fits on all rows.
            let next_rows = if i + 2 == plan.len() { rows.len() } else { plan[i + 1].0 };
            let scale = next_rows as f64 / share.len() as f64 * 1.3 / threads.max(1) as f64;
            let cost_of = |c: usize| costs[members.iter().position(|&m| m == c).unwrap_or(0)] * scale;
            let refit = cost_of(ranked[0]) / folds as f64 * threads.max(1) as f64;
            let left = budget.as_secs_f64() - start.elapsed().as_secs_f64() - refit;
            let mut affordable = 0;
            let mut spent = 0.0;
            for &c in &ranked[..keep] {
                spent += cost_of(c);
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
                    out.finalists = vec![ranked[0]];
                    return Ok(out);
                }
                keep = affordable;
            }
        }
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
