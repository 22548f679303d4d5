//! Classifiers, all trained on sparse matrices and all served by one sparse
//! linear scorer.
//!
//! Multinomial naive Bayes and logistic regression both score a document as
//! `bias_k + Σ_j x_j W[j,k]`; naive Bayes with `log P(k)` and `log θ_kj`,
//! logistic regression with its fitted weights. NB-weighted logistic
//! regression (Wang & Manning's NBSVM idea with a logistic loss) scales each
//! feature by its naive Bayes log-count ratio `r_j` before fitting, and the
//! ratio is folded into the weights afterwards. So prediction is the same
//! code for every family: a sparse dot product per class. With two classes
//! only the difference `s_1 - s_0` is stored, which gives the same labels
//! and probabilities with half the weights.

use crate::optimize::{self, Options};
use crate::sparse::Csr;
use serde::{Deserialize, Serialize};

/// Classifier hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
// Externally tagged: postcard cannot read internally tagged enums.
#[serde(rename_all = "snake_case")]
pub enum ClassifierConfig {
    /// Multinomial naive Bayes with additive (Lidstone) smoothing `alpha`.
    MultinomialNb { alpha: f64 },
    /// L2-regularised logistic regression; `c` is the inverse regularisation
    /// strength, as in scikit-learn.
    LogisticRegression { c: f64 },
    /// Logistic regression on features scaled by their naive Bayes log-count
    /// ratio (smoothing `alpha`). Two classes only.
    NbLogisticRegression { alpha: f64, c: f64 },
}

impl ClassifierConfig {
    pub fn family(&self) -> &'static str {
        match self {
            ClassifierConfig::MultinomialNb { .. } => "multinomial_nb",
            ClassifierConfig::LogisticRegression { .. } => "logistic_regression",
            ClassifierConfig::NbLogisticRegression { .. } => "nb_logistic_regression",
        }
    }
}

/// A fitted linear scorer (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearModel {
    /// 1 for two classes (the score is `s_1 - s_0`), else the class count.
    pub n_outputs: u32,
    /// `n_features × n_outputs`, row-major by feature.
    #[serde(with = "crate::raw::f32s")]
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl LinearModel {
    /// Class probabilities of one weighted sparse row, written to `out`
    /// (resized to the class count).
    #[inline]
    pub fn probabilities(&self, row: &[(u32, f32)], out: &mut Vec<f64>) {
        let k = self.n_outputs as usize;
        out.clear();
        if k == 1 {
            let mut z = self.bias[0] as f64;
            for &(j, v) in row {
                z += v as f64 * self.weights[j as usize] as f64;
            }
            let p1 = sigmoid(z);
            out.extend([1.0 - p1, p1]);
            return;
        }
        out.extend(self.bias.iter().map(|&b| b as f64));
        for &(j, v) in row {
            let w = &self.weights[j as usize * k..(j as usize + 1) * k];
            for (o, &wk) in out.iter_mut().zip(w) {
                *o += v as f64 * wk as f64;
            }
        }
        let max = out.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for o in out.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        for o in out.iter_mut() {
            *o /= sum;
        }
    }

    /// Adds feature `f`'s weights, times `x`, to the per-output scores `z`.
    #[inline]
    pub fn add_feature(&self, f: u32, x: f64, z: &mut [f64]) {
        let k = self.n_outputs as usize;
        let w = &self.weights[f as usize * k..(f as usize + 1) * k];
        for (zk, &wk) in z.iter_mut().zip(w) {
            *zk += x * wk as f64;
        }
    }

    /// Turns per-output scores (bias included) into class probabilities, in
    /// place: one score becomes `[1 - p, p]`, several a softmax.
    #[inline]
    pub fn scores_to_probabilities(&self, z: &mut Vec<f64>) {
        if self.n_outputs == 1 {
            let p1 = sigmoid(z[0]);
            z.clear();
            z.extend([1.0 - p1, p1]);
            return;
        }
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for o in z.iter_mut() {
            *o = (*o - max).exp();
            sum += *o;
        }
        for o in z.iter_mut() {
            *o /= sum;
        }
    }

    fn from_class_scores(n_features: usize, k: usize, w: &[f64], b: &[f64]) -> Self {
        if k == 2 {
            LinearModel {
                n_outputs: 1,
                weights: (0..n_features).map(|j| (w[j * 2 + 1] - w[j * 2]) as f32).collect(),
                bias: vec![(b[1] - b[0]) as f32],
            }
        } else {
            LinearModel {
                n_outputs: k as u32,
                weights: w.iter().map(|&x| x as f32).collect(),
                bias: b.iter().map(|&x| x as f32).collect(),
            }
        }
    }
}

/// Per-class sums of feature values: `n_features × k`.
fn feature_sums(x: &Csr, y: &[u32], k: usize) -> Vec<f64> {
    let mut sums = vec![0.0; x.n_cols * k];
    for (i, &yi) in y.iter().enumerate() {
        let (idx, val) = x.row(i);
        for (&j, &v) in idx.iter().zip(val) {
            sums[j as usize * k + yi as usize] += v as f64;
        }
    }
    sums
}

/// Multinomial naive Bayes, as scikit-learn's `MultinomialNB(alpha)` with
/// fitted priors: `θ_kj = (N_kj + α) / (N_k + α n)`.
pub fn fit_multinomial_nb(x: &Csr, y: &[u32], k: usize, alpha: f64) -> LinearModel {
    let d = x.n_cols;
    let sums = feature_sums(x, y, k);
    let mut class_total = vec![0.0; k];
    for j in 0..d {
        for c in 0..k {
            class_total[c] += sums[j * k + c];
        }
    }
    let mut counts = vec![0usize; k];
    for &yi in y {
        counts[yi as usize] += 1;
    }
    let n = y.len() as f64;
    let bias: Vec<f64> = counts.iter().map(|&c| (c as f64 / n).ln()).collect();
    let mut w = vec![0.0; d * k];
    for c in 0..k {
        let denom = (class_total[c] + alpha * d as f64).ln();
        for j in 0..d {
            w[j * k + c] = (sums[j * k + c] + alpha).ln() - denom;
        }
    }
    LinearModel::from_class_scores(d, k, &w, &bias)
}

/// The naive Bayes log-count ratio of each feature (two classes):
/// `r = ln((p / |p|₁) / (q / |q|₁))` with `p = α + Σ_{y=1} x`,
/// `q = α + Σ_{y=0} x`.
pub fn log_count_ratio(x: &Csr, y: &[u32], alpha: f64) -> Vec<f64> {
    let sums = feature_sums(x, y, 2);
    let d = x.n_cols;
    let p_total: f64 = (0..d).map(|j| sums[j * 2 + 1] + alpha).sum();
    let q_total: f64 = (0..d).map(|j| sums[j * 2] + alpha).sum();
    (0..d)
        .map(|j| ((sums[j * 2 + 1] + alpha) / p_total).ln() - ((sums[j * 2] + alpha) / q_total).ln())
        .collect()
}

/// Where a fit ended, to start the next C of the same rows from.
#[derive(Debug, Clone)]
pub enum Warm {
    /// L-BFGS's parameters (more than two classes).
    Primal(Vec<f64>),
    /// The dual variables (two classes).
    Dual(crate::dual_cd::DualStart),
}

/// Fitted logistic-regression parameters, kept for warm starts.
pub struct LrFit {
    pub model: LinearModel,
    /// The weights then the intercept(s), as the solver left them.
    pub params: Vec<f64>,
    pub warm: Warm,
    pub iterations: usize,
    /// The dual solver's passes (empty for L-BFGS).
    pub passes: Vec<crate::trace::Pass>,
}

/// L2-regularised logistic regression: minimises `½‖W‖² + C Σ_i loss_i`.
///
/// Two classes are solved in the dual by coordinate descent (Yu, Huang &
/// Lin, "Dual coordinate descent methods for logistic regression and
/// maximum entropy models", Machine Learning 85, 2011; liblinear's
/// `-s 7`), which on sparse text needs a few dozen cheap passes over the
/// data instead of hundreds of full gradient evaluations. As in liblinear
/// the intercept is a constant feature and is regularised with the weights.
/// More classes use the multinomial (softmax) loss, minimised with L-BFGS
/// and an unpenalised intercept. `warm` is another C's fit of the same rows
/// (of the same shape: a mismatch is ignored).
pub fn fit_logistic_regression(x: &Csr, y: &[u32], k: usize, c: f64, warm: Option<&Warm>) -> LrFit {
    let d = x.n_cols;
    let n = x.n_rows();
    if k == 2 {
        return fit_binary(x, None, y, c, warm);
    }
    let mut params = match warm {
        Some(Warm::Primal(p)) if p.len() == d * k + k => p.clone(),
        _ => vec![0.0; d * k + k],
    };
    let mut z = vec![0.0; k];
    let iterations = optimize::minimize(
        |p, g| {
            let (w, b) = (&p[..d * k], &p[d * k..]);
            let mut f = 0.5 * w.iter().map(|v| v * v).sum::<f64>();
            g[..d * k].copy_from_slice(w);
            g[d * k..].iter_mut().for_each(|v| *v = 0.0);
            for i in 0..n {
                let (idx, val) = x.row(i);
                z.copy_from_slice(b);
                for (&j, &v) in idx.iter().zip(val) {
                    for (zk, wk) in z.iter_mut().zip(&w[j as usize * k..(j as usize + 1) * k]) {
                        *zk += v as f64 * wk;
                    }
                }
                let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|zk| (zk - max).exp()).sum();
                let lse = max + sum.ln();
                f += c * (lse - z[y[i] as usize]);
                for kk in 0..k {
                    let coef = c * ((z[kk] - lse).exp() - if y[i] as usize == kk { 1.0 } else { 0.0 });
                    g[d * k + kk] += coef;
                    for (&j, &v) in idx.iter().zip(val) {
                        g[j as usize * k + kk] += coef * v as f64;
                    }
                }
            }
            f
        },
        &mut params,
        Options::default(),
    );
    let model = LinearModel::from_class_scores(d, k, &params[..d * k], &params[d * k..]);
    LrFit {
        model,
        warm: Warm::Primal(params.clone()),
        params,
        iterations,
        passes: Vec::new(),
    }
}

/// Two classes, in the dual ([`crate::dual_cd`]), on `x` with `values` in
/// place of its own if given.
fn fit_binary(x: &Csr, values: Option<&[f32]>, y: &[u32], c: f64, warm: Option<&Warm>) -> LrFit {
    let d = x.n_cols;
    let n = x.n_rows();
    let start = match warm {
        Some(Warm::Dual(start)) => Some(start),
        _ => None,
    };
    let (params, end, passes) = crate::dual_cd::fit(x, values, y, c, start);
    let iterations = passes.iter().filter(|p| p.rows == n).count();
    let model = LinearModel {
        n_outputs: 1,
        weights: params[..d].iter().map(|&v| v as f32).collect(),
        bias: vec![params[d] as f32],
    };
    LrFit {
        model,
        params,
        warm: Warm::Dual(end),
        iterations,
        passes,
    }
}

/// NB-weighted logistic regression (two classes): fit on `x_ij · r_j`, then
/// fold `r` into the weights so the model scores unscaled features.
pub fn fit_nb_logistic_regression(x: &Csr, y: &[u32], alpha: f64, c: f64, warm: Option<&Warm>) -> LrFit {
    let r = log_count_ratio(x, y, alpha);
    let scaled: Vec<f32> = x
        .values
        .iter()
        .zip(&x.indices)
        .map(|(&v, &j)| (v as f64 * r[j as usize]) as f32)
        .collect();
    let mut fit = fit_binary(x, Some(&scaled), y, c, warm);
    for (w, rj) in fit.model.weights.iter_mut().zip(&r) {
        *w = (*w as f64 * rj) as f32;
    }
    fit
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    fn csr(rows: &[&[(u32, f32)]], n_cols: usize) -> Csr {
        let mut m = Csr {
            indptr: vec![0],
            n_cols,
            ..Csr::default()
        };
        for r in rows {
            for &(j, v) in r.iter() {
                m.indices.push(j);
                m.values.push(v);
            }
            m.indptr.push(m.indices.len());
        }
        m
    }

    /// Hand-computed: class 0 counts (2, 0), class 1 counts (0, 3), α = 1,
    /// priors 1/2. θ_0 = (3/4, 1/4), θ_1 = (1/5, 4/5). For x = (1, 0):
    /// s_1 - s_0 = ln(1/5) - ln(3/4) → P(1) = (1/5) / (1/5 + 3/4) = 4/19.
    #[test]
    fn naive_bayes_matches_hand_computed_probabilities() {
        let x = csr(&[&[(0, 2.0)], &[(1, 3.0)]], 2);
        let m = fit_multinomial_nb(&x, &[0, 1], 2, 1.0);
        let mut p = Vec::new();
        m.probabilities(&[(0, 1.0)], &mut p);
        assert!((p[1] - 4.0 / 19.0).abs() < 1e-6, "{p:?}");
        m.probabilities(&[], &mut p);
        assert!((p[1] - 0.5).abs() < 1e-6, "empty input gets the prior: {p:?}");
    }

    #[test]
    fn logistic_regression_separates_and_gives_probabilities() {
        let x = csr(
            &[&[(0, 1.0)], &[(0, 1.0), (2, 0.5)], &[(1, 1.0)], &[(1, 1.0), (2, 0.5)]],
            3,
        );
        let y = [0, 0, 1, 1];
        let fit = fit_logistic_regression(&x, &y, 2, 10.0, None);
        let mut p = Vec::new();
        fit.model.probabilities(&[(1, 1.0)], &mut p);
        assert!(p[1] > 0.85, "{p:?}");
        assert!((p[0] + p[1] - 1.0).abs() < 1e-12);
        // Three classes use the softmax path.
        let x3 = csr(&[&[(0, 1.0)], &[(1, 1.0)], &[(2, 1.0)]], 3);
        let fit = fit_logistic_regression(&x3, &[0, 1, 2], 3, 10.0, None);
        for c in 0..3u32 {
            fit.model.probabilities(&[(c, 1.0)], &mut p);
            let best = (0..3).max_by(|&a, &b| p[a].partial_cmp(&p[b]).unwrap()).unwrap();
            assert_eq!(best, c as usize, "{p:?}");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }

    /// The optimum satisfies the first-order condition: the gradient of the
    /// binary objective (intercept regularised, as liblinear) vanishes.
    #[test]
    fn logistic_regression_reaches_the_optimum() {
        let x = csr(
            &[
                &[(0, 1.0), (1, 0.3)],
                &[(0, 0.2), (1, 1.0)],
                &[(0, 0.9)],
                &[(1, 0.8), (0, 0.5)],
            ],
            2,
        );
        let y = [0u32, 1, 0, 1];
        let c = 2.0;
        let fit = fit_logistic_regression(&x, &y, 2, c, None);
        let (w, b) = (&fit.params[..2], fit.params[2]);
        let mut g = w.to_vec();
        let mut gb = b;
        for i in 0..4 {
            let (idx, val) = x.row(i);
            let z: f64 = b + idx
                .iter()
                .zip(val)
                .map(|(&j, &v)| v as f64 * w[j as usize])
                .sum::<f64>();
            let resid = c * (sigmoid(z) - y[i] as f64);
            gb += resid;
            for (&j, &v) in idx.iter().zip(val) {
                g[j as usize] += resid * v as f64;
            }
        }
        // The solver stops at liblinear's default dual tolerance (0.1), which
        // leaves the primal gradient ~50x below where it started (~1).
        assert!(g.iter().all(|v| v.abs() < 0.05) && gb.abs() < 0.05, "{g:?} {gb}");
    }
}
