//! A small L-BFGS minimiser for the smooth, convex losses of logistic
//! regression.
//!
//! Written here rather than taken from a crate because the problem is
//! narrow (one convex objective, parameters in a `Vec<f64>`, no bounds),
//! determinism matters (same input, same bits, any thread count) and the
//! general-purpose crates bring a dense linear-algebra stack this crate has
//! no other use for. Textbook algorithm: Nocedal & Wright, *Numerical
//! Optimization*, algorithm 7.4 (two-loop recursion) with a backtracking
//! Armijo line search.

/// Stopping rules.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub max_iter: usize,
    /// Stop when the largest gradient entry falls below
    /// `grad_tol * max(1, largest entry of the first gradient)`.
    pub grad_tol: f64,
    /// Stop when an iteration lowers the objective by less than this
    /// fraction of its magnitude.
    pub rel_decrease_tol: f64,
    pub memory: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_iter: 500,
            grad_tol: 1e-5,
            rel_decrease_tol: 1e-9,
            memory: 10,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimises `f` from `x` (updated in place); `f(x, grad)` returns the
/// objective and writes the gradient. Returns the iterations used.
pub fn minimize(mut f: impl FnMut(&[f64], &mut [f64]) -> f64, x: &mut [f64], opts: Options) -> usize {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut fx = f(x, &mut g);
    let g0 = max_abs(&g).max(1.0);
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut rho: Vec<f64> = Vec::new();
    let mut d = vec![0.0; n];
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut alpha = vec![0.0; opts.memory];
    for iter in 0..opts.max_iter {
        if max_abs(&g) <= opts.grad_tol * g0 {
            return iter;
        }
        // Two-loop recursion: d = -H g.
        d.copy_from_slice(&g);
        for i in (0..s_hist.len()).rev() {
            alpha[i] = rho[i] * dot(&s_hist[i], &d);
            for (dj, yj) in d.iter_mut().zip(&y_hist[i]) {
                *dj -= alpha[i] * yj;
            }
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0 / max_abs(&g).max(1e-12),
        };
        for dj in d.iter_mut() {
            *dj *= gamma;
        }
        for i in 0..s_hist.len() {
            let beta = rho[i] * dot(&y_hist[i], &d);
            for (dj, sj) in d.iter_mut().zip(&s_hist[i]) {
                *dj += sj * (alpha[i] - beta);
            }
        }
        for dj in d.iter_mut() {
            *dj = -*dj;
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (numerical trouble): restart.
            s_hist.clear();
            y_hist.clear();
            rho.clear();
            for (dj, gj) in d.iter_mut().zip(&g) {
                *dj = -gj;
            }
            slope = -dot(&g, &g);
        }
        // Backtracking line search with the Armijo condition.
        let mut step = 1.0;
        let mut f_new;
        let mut tries = 0;
        loop {
            for j in 0..n {
                x_new[j] = x[j] + step * d[j];
            }
            f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope || tries >= 40 {
                break;
            }
            step *= 0.5;
            tries += 1;
        }
        if f_new > fx {
            return iter;
        }
        let s: Vec<f64> = x_new.iter().zip(x.iter()).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            if s_hist.len() == opts.memory {
                s_hist.remove(0);
                y_hist.remove(0);
                rho.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
            rho.push(1.0 / sy);
        }
        let decrease = fx - f_new;
        x.copy_from_slice(&x_new);
        g.copy_from_slice(&g_new);
        fx = f_new;
        if decrease <= opts.rel_decrease_tol * fx.abs().max(1.0) {
            return iter + 1;
        }
    }
    opts.max_iter
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_an_ill_conditioned_quadratic() {
        let scales = [1.0, 10.0, 100.0, 1000.0];
        let mut x = vec![1.0; 4];
        minimize(
            |x, g| {
                let mut f = 0.0;
                for i in 0..4 {
                    let d = x[i] - i as f64;
                    f += 0.5 * scales[i] * d * d;
                    g[i] = scales[i] * d;
                }
                f
            },
            &mut x,
            Options {
                grad_tol: 1e-10,
                rel_decrease_tol: 0.0,
                ..Options::default()
            },
        );
        for (i, xi) in x.iter().enumerate() {
            assert!((xi - i as f64).abs() < 1e-6, "{x:?}");
        }
    }
}
