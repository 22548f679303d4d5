//! `modelreg.TextClassifier`: the trainer's grid search and the textclf
//! model from Python, with scikit-learn's names (`fit`, `predict`,
//! `predict_proba`, `classes_`, `best_params_`).

use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use registry_core::ModelInfo;
use textclf::{Grid, SearchConfig, SearchReport};

use crate::errors;

/// What the search that made a model found: the metadata the registry
/// records for it (as `trainer` would) and the full report.
pub struct Search {
    pub info: ModelInfo,
    report: SearchReport,
}

type Fitted = (Arc<textclf::TextClassifier>, Option<Arc<Search>>);

/// A text classifier: TF-IDF features and a linear model, chosen by a
/// cross-validated grid search (the same as `trainer`'s).
#[pyclass(frozen, module = "modelreg._native")]
pub struct TextClassifier {
    state: RwLock<Option<Fitted>>,
}

impl TextClassifier {
    pub fn from_model(model: textclf::TextClassifier) -> TextClassifier {
        TextClassifier {
            state: RwLock::new(Some((Arc::new(model), None))),
        }
    }

    /// The model and its search, or the error a caller gets before `fit`.
    pub fn fitted(&self) -> PyResult<Fitted> {
        let state = self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.clone().ok_or_else(|| {
            errors::raise(
                "NotFitted",
                "not_fitted",
                "this TextClassifier is not fitted yet: call fit(texts, labels) or load one with Registry.get_model"
                    .into(),
            )
        })
    }

    fn set(&self, fitted: Fitted) {
        *self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fitted);
    }

    fn search(&self) -> PyResult<Arc<Search>> {
        self.fitted()?.1.ok_or_else(|| {
            errors::raise(
                "NotFitted",
                "no_search",
                "this TextClassifier was loaded, not fitted here: its search results are in the version's metadata"
                    .into(),
            )
        })
    }
}

/// Python strings as Rust strings, naming the first item that is not one.
fn strings(what: &str, items: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if items.is_instance_of::<PyString>() {
        return Err(errors::invalid(format!(
            "{what} must be a list of strings, not one string (wrap it: [{what}])"
        )));
    }
    let mut out = Vec::new();
    for (i, item) in items.try_iter()?.enumerate() {
        let item = item?;
        match item.cast::<PyString>() {
            Ok(s) => out.push(s.to_cow()?.into_owned()),
            Err(_) => {
                let kind = item.get_type().name()?;
                return Err(errors::invalid(format!(
                    "{what}[{i}] is a {kind}, not a string (convert with [str(x) for x in {what}])"
                )));
            }
        }
    }
    Ok(out)
}

fn json_to_py<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| errors::invalid(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

#[pymethods]
impl TextClassifier {
    #[new]
    fn new() -> Self {
        TextClassifier {
            state: RwLock::new(None),
        }
    }

    /// Selects and fits a model as `trainer` does: hold out `test_size`
    /// of the data, cross-validate every candidate of `grid` (the trainer's
    /// default grid when None; else a list of sub-grid dicts, as in a
    /// `--grid` JSON file) with `folds` stratified folds, refit the best on
    /// the training share and score it on the held-out share. `search`:
    /// "auto" (successive halving from 20,000 training rows), "full" or
    /// "halving"; `time_budget` (seconds) and `max_memory` (bytes) as the
    /// trainer's options. Returns self.
    #[pyo3(signature = (texts, labels, grid=None, folds=5, seed=42, test_size=0.2, search="auto", time_budget=None, max_memory=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit<'py>(
        slf: Bound<'py, Self>,
        texts: &Bound<'py, PyAny>,
        labels: &Bound<'py, PyAny>,
        grid: Option<&Bound<'py, PyAny>>,
        folds: usize,
        seed: u64,
        test_size: f64,
        search: &str,
        time_budget: Option<f64>,
        max_memory: Option<u64>,
    ) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let texts = strings("texts", texts)?;
        let labels = strings("labels", labels)?;
        let grid = match grid {
            None => None,
            Some(g) => {
                let text: String = py.import("json")?.call_method1("dumps", (g,))?.extract()?;
                Some(Grid::from_json(&text).map_err(|e| errors::invalid(format!("grid: {e}")))?)
            }
        };
        if !(test_size > 0.0 && test_size < 1.0) {
            return Err(errors::invalid(format!(
                "test_size={test_size}: it is the share of the data held out, between 0 and 1"
            )));
        }
        let strategy: textclf::Strategy = search.parse().map_err(errors::invalid)?;
        let time_budget = match time_budget {
            Some(s) if s.is_finite() && s > 0.0 => Some(std::time::Duration::from_secs_f64(s)),
            Some(s) => return Err(errors::invalid(format!("time_budget={s}: seconds, more than 0"))),
            None => None,
        };
        let config = SearchConfig {
            folds,
            test_size,
            seed,
            grid,
            strategy,
            time_budget,
            max_memory,
        };
        let searched = py.detach(|| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            textclf::grid_search(&refs, &labels, &config, &|_| {})
                .map(|(model, report)| (textclf_registry::search_info(&model, &report, &config), model, report))
        });
        let (info, model, report) = searched.map_err(|e| errors::invalid(e.to_string()))?;
        slf.get()
            .set((Arc::new(model), Some(Arc::new(Search { info, report }))));
        Ok(slf)
    }

    /// The most likely label of each text.
    fn predict(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let texts = strings("texts", texts)?;
        let (model, _) = self.fitted()?;
        Ok(py.detach(|| {
            model
                .predict_batch(&texts)
                .into_iter()
                .map(|p| p.label.to_string())
                .collect()
        }))
    }

    /// Each text's probability of every label, in `classes_` order.
    fn predict_proba(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
        let texts = strings("texts", texts)?;
        let (model, _) = self.fitted()?;
        Ok(py.detach(|| model.predict_proba_batch(&texts)))
    }

    /// The labels, sorted: the columns of `predict_proba`.
    #[getter]
    fn classes_(&self) -> PyResult<Vec<String>> {
        Ok(self.fitted()?.0.labels().to_vec())
    }

    /// The model's hyperparameters, as the registry records them.
    #[getter]
    fn best_params_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.fitted()?.0.hyperparameters())
    }

    /// Mean cross-validation accuracy of the chosen candidate.
    #[getter]
    fn best_score_(&self) -> PyResult<f64> {
        Ok(self.search()?.report.winner().mean)
    }

    /// Accuracy on the held-out share.
    #[getter]
    fn test_score_(&self) -> PyResult<f64> {
        Ok(self.search()?.report.test.accuracy)
    }

    /// Every candidate's hyperparameters and fold scores.
    #[getter]
    fn cv_results_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json_to_py(py, &self.search()?.report.candidates)
    }

    #[getter]
    fn n_features_(&self) -> PyResult<usize> {
        Ok(self.fitted()?.0.n_features())
    }

    /// The model in the trainer's format (postcard bytes).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self
            .fitted()?
            .0
            .to_bytes()
            .map_err(|e| errors::invalid(e.to_string()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from [`TextClassifier::to_bytes`]'s bytes, validated.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<TextClassifier> {
        let model = py
            .detach(|| textclf_registry::decode(data))
            .map_err(|e| errors::raise("IntegrityError", "invalid_model", e))?;
        Ok(TextClassifier::from_model(model))
    }

    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        if self.state.read().map(|s| s.is_none()).unwrap_or(false) {
            return Ok(None);
        }
        self.to_bytes(py).map(Some)
    }

    fn __setstate__(&self, py: Python<'_>, state: Option<&[u8]>) -> PyResult<()> {
        if let Some(bytes) = state {
            let loaded = TextClassifier::from_bytes(py, bytes)?;
            if let Some(fitted) = loaded.state.into_inner().unwrap_or_else(|p| p.into_inner()) {
                self.set(fitted);
            }
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        match self.fitted() {
            Ok((model, _)) => format!(
                "TextClassifier(labels={:?}, features={})",
                model.labels(),
                model.n_features()
            ),
            Err(_) => "TextClassifier(not fitted)".into(),
        }
    }
}
