//! Binary L2-regularised logistic regression in the dual, by coordinate
//! descent (Yu, Huang & Lin, "Dual coordinate descent methods for logistic
//! regression and maximum entropy models", Machine Learning 85, 2011;
//! liblinear's `solve_l2r_lr_dual`, `-s 7`), with changes to how the
//! passes are spent.
//!
//! liblinear stops when a whole pass finds no row whose projected gradient
//! reaches the tolerance (0.1), and every pass visits every row. On the
//! tweets of `crowdflower_tweets.tsv` a handful of rows (long ones whose
//! character n-grams give them a squared norm up to 20x the mean) keep
//! that maximum up for well over a hundred passes after the others have
//! settled: one fit on 24,663 rows ran 245 passes, and in the last 150 of
//! them between 1 and 11 rows were above the tolerance while the duality
//! gap, estimated from the losses each row saw, was below 1e-4 of the
//! objective (docs/PERFORMANCE.md, "Where the fits' time goes"). Since the
//! largest of n gradients is what stops the solver, more rows meant more
//! such passes: the cost grew faster than the data. So:
//!
//! - after each full pass, the rows at or above the tolerance are solved
//!   again on their own, a few passes over just them, before the next one;
//! - a full pass with at most one row in [`OVER_PER_ROWS`] above the
//!   tolerance ends the fit (below that many rows, none: liblinear's rule);
//! - a fit can start from another C's solution of the same rows
//!   ([`DualStart`]), as the search fits C in increasing order.
//!
//! That fit went from 245 passes and 5.3 s to 12 full passes (19 passes'
//! worth of rows in all) and 0.5 s, with the same test accuracy.

use crate::sparse::Csr;
use crate::split::SplitMix;
use crate::trace::Pass;

/// liblinear's default tolerance for `-s 7`.
const EPS: f64 = 0.1;
/// A full pass may end the fit with one row in this many still at or above
/// the tolerance (none below this many rows, as liblinear). The largest
/// of n gradients is what liblinear's rule waits for, and on the tweets
/// the last few rows took half of a fit's passes while nothing else moved
/// (test accuracy on the three shared sets unchanged: 0.8403 and 0.8405).
const OVER_PER_ROWS: usize = 1000;
/// liblinear's pass cap.
const MAX_PASSES: usize = 1000;
/// Newton steps per one-variable subproblem, at most.
const MAX_INNER: usize = 100;
/// Passes over the rows left above the tolerance, at most, between two
/// full passes.
const MAX_ACTIVE_PASSES: usize = 20;
/// How many rows ahead the solver asks the memory system for.
const PREFETCH_AHEAD: usize = 4;

/// The solver's state: the dual variables (`alpha[2i]`, `alpha[2i+1]`,
/// summing to C for row i), the primal weights they give (the intercept as
/// the last entry, a constant feature 1, regularised as in liblinear), and
/// the per-row constants.
struct Dual<'a> {
    x: &'a Csr,
    /// The values to use instead of `x`'s (NB-weighted logistic
    /// regression's scaled ones), over `x`'s indices: a copy of the values
    /// alone, where a scaled copy of the matrix was 55 MB per fold fit on
    /// the tweets. (Multiplying by each feature's factor as the values are
    /// read instead made the passes 5-10% slower.)
    values: &'a [f32],
    c: f64,
    sign: Vec<f64>,
    x_sq: Vec<f64>,
    alpha: Vec<f64>,
    w: Vec<f64>,
    inner_eps: f64,
    /// The visiting order's shuffles: seeded, so fits are deterministic.
    rng: SplitMix,
}

/// A solution to start another fit from: each row's dual variable, and the
/// C it was found for.
#[derive(Debug, Clone)]
pub struct DualStart {
    pub alpha: Vec<f64>,
    pub c: f64,
}

/// What one pass saw.
#[derive(Default)]
struct PassStats {
    g_max: f64,
    newton_steps: usize,
    over: Vec<usize>,
    loss: f64,
}

impl<'a> Dual<'a> {
    /// From liblinear's start (every dual variable near 0, so w near 0),
    /// or from `warm`: another C's solution on the same rows, scaled to
    /// this C (at the optimum each variable is C times the row's loss
    /// derivative, which moves little between neighbouring Cs).
    fn new(x: &'a Csr, values: &'a [f32], y: &[u32], c: f64, warm: Option<&DualStart>) -> Dual<'a> {
        let row = |i: usize| {
            (
                &x.indices[x.indptr[i]..x.indptr[i + 1]],
                &values[x.indptr[i]..x.indptr[i + 1]],
            )
        };
        let d = x.n_cols;
        let n = x.n_rows();
        let mut w = vec![0.0f64; d + 1];
        let sign: Vec<f64> = y.iter().map(|&t| if t == 1 { 1.0 } else { -1.0 }).collect();
        let mut alpha = vec![0.0f64; 2 * n];
        let mut x_sq = vec![0.0f64; n];
        let low = (0.001 * c).min(1e-8);
        let warm = warm.filter(|w| w.alpha.len() == n && w.c > 0.0);
        for i in 0..n {
            let (idx, val) = row(i);
            // Strictly inside (0, C): the dual's entropy terms need it.
            alpha[2 * i] = match warm {
                Some(start) => (start.alpha[i] * c / start.c).clamp(low, c - low),
                None => low,
            };
            alpha[2 * i + 1] = c - alpha[2 * i];
            x_sq[i] = 1.0 + val.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
            let coef = sign[i] * alpha[2 * i];
            for (&j, &v) in idx.iter().zip(val) {
                w[j as usize] += coef * v as f64;
            }
            w[d] += coef;
        }
        Dual {
            x,
            values,
            c,
            sign,
            x_sq,
            alpha,
            w,
            inner_eps: 1e-2,
            rng: SplitMix(0x5EED),
        }
    }

    /// One pass over `rows` in their order: each row's subproblem solved
    /// by a few Newton steps, the weights updated.
    fn pass(&mut self, rows: &[usize]) -> PassStats {
        let (x, values, c, d) = (self.x, self.values, self.c, self.x.n_cols);
        let mut stats = PassStats::default();
        let traced = crate::trace::enabled();
        for (pos, &i) in rows.iter().enumerate() {
            // Rows are visited in random order: on a large matrix each is a
            // cache and TLB miss, which made a pass cost more per non-zero
            // the larger the data (profiled at 16x the bundled rows). Asking
            // for a row a few steps ahead overlaps those misses with work.
            if let Some(&ahead) = rows.get(pos + PREFETCH_AHEAD) {
                x.prefetch_row_of(ahead, values);
            }
            let (start, end) = (x.indptr[i], x.indptr[i + 1]);
            let (idx, val) = (&x.indices[start..end], &values[start..end]);
            let w = &mut self.w;
            let wx = w[d] + dot(w, idx, val);
            let a = self.x_sq[i];
            let b = self.sign[i] * wx;
            let (mut ind1, mut ind2, mut dir) = (2 * i, 2 * i + 1, 1.0);
            if 0.5 * a * (self.alpha[ind2] - self.alpha[ind1]) + b < 0.0 {
                ind1 = 2 * i + 1;
                ind2 = 2 * i;
                dir = -1.0;
            }
            let alpha_old = self.alpha[ind1];
            let mut z = alpha_old;
            if c - z < 0.5 * c {
                z *= 0.1;
            }
            let mut gp = a * (z - alpha_old) + dir * b + (z / (c - z)).ln();
            stats.g_max = stats.g_max.max(gp.abs());
            if gp.abs() >= EPS {
                stats.over.push(i);
            }
            if traced {
                // log(1 + e^-b), stably: the primal loss at the weights seen.
                stats.loss += if b > 0.0 {
                    (-b).exp().ln_1p()
                } else {
                    -b + b.exp().ln_1p()
                };
            }
            let mut inner = 0;
            while inner <= MAX_INNER {
                if gp.abs() < self.inner_eps {
                    break;
                }
                let gpp = a + c / (c - z) / z;
                let next = z - gp / gpp;
                z = if next <= 0.0 { z * 0.1 } else { next };
                gp = a * (z - alpha_old) + dir * b + (z / (c - z)).ln();
                stats.newton_steps += 1;
                inner += 1;
            }
            if inner > 0 {
                self.alpha[ind1] = z;
                self.alpha[ind2] = c - z;
                let coef = dir * (z - alpha_old) * self.sign[i];
                for (&j, &v) in idx.iter().zip(val) {
                    w[j as usize] += coef * v as f64;
                }
                w[d] += coef;
            }
        }
        stats
    }

    /// The pass's record for [`crate::trace`] (computed only when traced:
    /// it costs a sweep of the weights and the dual variables).
    fn record(&self, stats: &PassStats, rows: usize, started: std::time::Instant) -> Pass {
        let (traced, c) = (crate::trace::enabled(), self.c);
        let w_sq: f64 = if traced {
            self.w.iter().map(|v| v * v).sum()
        } else {
            0.0
        };
        let entropy: f64 = if traced {
            self.alpha.iter().map(|&a| if a > 0.0 { a * a.ln() } else { 0.0 }).sum()
        } else {
            0.0
        };
        Pass {
            rows,
            g_max: stats.g_max,
            newton_steps: stats.newton_steps,
            rows_over_tolerance: stats.over.len(),
            primal: 0.5 * w_sq + c * stats.loss,
            dual: 0.5 * w_sq + entropy - self.x_sq.len() as f64 * c * c.ln(),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// `w · x` for one sparse row, in four running sums: one sum is a chain of
/// dependent additions, each waiting for the last, and a row of the tweets
/// has hundreds of entries (the fits' passes took 4.2 ns per entry with
/// one sum).
#[inline(always)]
fn dot(w: &[f64], idx: &[u32], val: &[f32]) -> f64 {
    let mut sums = [0.0f64; 4];
    let (idx4, idx_rest) = idx.split_at(idx.len() / 4 * 4);
    let (val4, val_rest) = val.split_at(idx4.len().min(val.len()));
    for (j, v) in idx4.chunks_exact(4).zip(val4.chunks_exact(4)) {
        for k in 0..4 {
            sums[k] += w[j[k] as usize] * v[k] as f64;
        }
    }
    let mut total = (sums[0] + sums[1]) + (sums[2] + sums[3]);
    for (&j, &v) in idx_rest.iter().zip(val_rest) {
        total += w[j as usize] * v as f64;
    }
    total
}

/// Fits `x` (with `values` in place of its own, if given), `y` (labels
/// 0 and 1) with regularisation `c`, from `warm` if given: `[w..., b]`,
/// where it ended (to warm-start the next C), and what each pass did (full
/// passes and the passes over the rows left above the tolerance, in order).
pub(crate) fn fit(
    x: &Csr,
    values: Option<&[f32]>,
    y: &[u32],
    c: f64,
    warm: Option<&DualStart>,
) -> (Vec<f64>, DualStart, Vec<Pass>) {
    let started = std::time::Instant::now();
    let n = x.n_rows();
    let mut solver = Dual::new(x, values.unwrap_or(&x.values), y, c, warm);
    let mut trace = Vec::new();
    let mut order: Vec<usize> = (0..n).collect();
    let inner_eps_min = 1e-8f64.min(EPS);
    let mut full_passes = 0;
    while full_passes < MAX_PASSES {
        solver.rng.shuffle(&mut order);
        let stats = solver.pass(&order);
        full_passes += 1;
        trace.push(solver.record(&stats, n, started));
        if stats.g_max < EPS || stats.over.len() * OVER_PER_ROWS <= n {
            break;
        }
        if stats.newton_steps <= n / 10 {
            solver.inner_eps = inner_eps_min.max(0.1 * solver.inner_eps);
        }
        // The rows holding the maximum up, on their own (from the first
        // pass: waiting until they were under a quarter of the rows, as
        // tried first, cost 28.7 full passes per fit against 20.8).
        let mut active = stats.over;
        for _ in 0..MAX_ACTIVE_PASSES {
            solver.rng.shuffle(&mut active);
            let stats = solver.pass(&active);
            trace.push(solver.record(&stats, active.len(), started));
            active = stats.over;
            if active.is_empty() {
                break;
            }
        }
    }
    let end = DualStart {
        alpha: solver.alpha.iter().step_by(2).copied().collect(),
        c,
    };
    (solver.w, end, trace)
}
