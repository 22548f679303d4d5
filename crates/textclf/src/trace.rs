//! Per-fit measurements, for finding out where a search's time goes
//! (`trainer --trace-fits FILE`; docs/PERFORMANCE.md "Where the fits'
//! time goes"). Off unless a sink is set, and then one record per fit:
//! the matrix it saw and, for the dual solver, every pass.

use std::sync::OnceLock;

/// One pass of the dual coordinate-descent solver over the rows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pass {
    /// The rows it visited: all of them, or those a full pass left above
    /// the tolerance.
    pub rows: usize,
    /// The stopping criterion: the largest projected gradient of the
    /// pass (the solver stops below 0.1, as liblinear's `-s 7` does).
    pub g_max: f64,
    /// Newton steps of the one-variable subproblems in this pass.
    pub newton_steps: usize,
    /// Rows whose projected gradient was at or above the tolerance.
    pub rows_over_tolerance: usize,
    /// The primal objective as the pass saw it (each row's loss at the
    /// weights when it was visited), and the dual's: their sum is the
    /// duality gap, which is zero at the optimum.
    pub primal: f64,
    pub dual: f64,
    /// Seconds since the fit began, at the end of this pass.
    pub seconds: f64,
}

/// One classifier fit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FitTrace {
    /// The classifier and its hyperparameters, as `ClassifierConfig` prints.
    pub classifier: String,
    pub rows: usize,
    pub features: usize,
    pub nnz: usize,
    /// The mean and largest squared norm of a row as the solver sees it
    /// (with the constant feature); its product with C is how hard each
    /// one-variable subproblem is.
    pub row_norm_sq_mean: f64,
    pub row_norm_sq_max: f64,
    /// L-BFGS iterations or full dual passes.
    pub iterations: usize,
    /// The dual solver's passes, full and over the rows left above the
    /// tolerance (empty for the other solvers).
    pub passes: Vec<Pass>,
    pub seconds: f64,
    /// When it ended, in seconds since the sink was set.
    pub at: f64,
}

type Sink = Box<dyn Fn(&FitTrace) + Send + Sync>;

static SINK: OnceLock<(Sink, std::time::Instant)> = OnceLock::new();

/// Sends every fit's record of this process to `sink`; false if one is set
/// already (the first stays).
pub fn set_fit_trace(sink: Sink) -> bool {
    SINK.set((sink, std::time::Instant::now())).is_ok()
}

/// Seconds since the sink was set (0 without one).
pub(crate) fn now() -> f64 {
    SINK.get().map_or(0.0, |(_, since)| since.elapsed().as_secs_f64())
}

pub(crate) fn enabled() -> bool {
    SINK.get().is_some()
}

pub(crate) fn emit(trace: &FitTrace) {
    if let Some((sink, _)) = SINK.get() {
        sink(trace);
    }
}
