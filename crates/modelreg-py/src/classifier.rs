//! `modelreg.TextClassifier`: the trainer's grid search and the textclf
//! model from Python, with scikit-learn's names (`fit`, `predict`,
//! `predict_proba`, `classes_`, `best_params_`).
//!
//! Labels are strings or, as scikit-learn allows, integers: the model keeps
//! them as decimal strings (its format and `predictor` know only strings),
//! and this wrapper gives integers back, ordered as numbers, when it was
//! fitted on integers. The registry records that with the version
//! ([`INT_LABELS_TAG`]), so `get_model` returns integers too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PyString, PyTuple};
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
    /// Fitted on integer labels: they are given back as integers.
    int_labels: AtomicBool,
}

/// The tag a saved version carries when its labels were integers.
pub const INT_LABELS_TAG: &str = "modelreg.labels";

impl TextClassifier {
    pub fn from_model(model: textclf::TextClassifier, int_labels: bool) -> TextClassifier {
        TextClassifier {
            state: RwLock::new(Some((Arc::new(model), None))),
            int_labels: AtomicBool::new(int_labels),
        }
    }

    /// Whether the labels are given back as integers.
    pub fn int_labels(&self) -> bool {
        self.int_labels.load(Ordering::Relaxed)
    }

    /// The model's labels (sorted as strings) as Python values, and the
    /// order of `classes_`: as numbers for integer labels.
    fn classes(&self, py: Python<'_>, model: &textclf::TextClassifier) -> PyResult<(Vec<Py<PyAny>>, Vec<usize>)> {
        let labels = model.labels();
        if !self.int_labels() {
            let values = labels
                .iter()
                .map(|l| PyString::new(py, l).into_any().unbind())
                .collect();
            return Ok((values, (0..labels.len()).collect()));
        }
        let numbers = labels
            .iter()
            .map(|l| {
                l.parse::<i64>().map_err(|_| {
                    errors::raise(
                        "IntegrityError",
                        "invalid_model",
                        format!("label {l:?} of a model fitted on integer labels is not an integer"),
                    )
                })
            })
            .collect::<PyResult<Vec<i64>>>()?;
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by_key(|&i| numbers[i]);
        let values = numbers
            .iter()
            .map(|n| {
                n.into_pyobject(py)
                    .map_or_else(|never| match never {}, |v| v.into_any().unbind())
            })
            .collect();
        Ok((values, order))
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

/// Labels as the model's strings: all strings, or all integers (then
/// `true`, and kept as their decimal form). Booleans and mixed kinds are
/// refused by position, as scikit-learn's type checks would.
fn labels_of(items: &Bound<'_, PyAny>) -> PyResult<(Vec<String>, bool)> {
    if items.is_instance_of::<PyString>() {
        return strings("labels", items).map(|l| (l, false));
    }
    let items: Vec<Bound<'_, PyAny>> = items.try_iter()?.collect::<PyResult<_>>()?;
    let is_int = |item: &Bound<'_, PyAny>| {
        !item.is_instance_of::<PyBool>() && item.extract::<i64>().is_ok() && !item.is_instance_of::<PyString>()
    };
    let Some(first) = items.first() else {
        return Ok((Vec::new(), false));
    };
    if !is_int(first) {
        return strings("labels", &PyList::new(items[0].py(), &items)?.into_any()).map(|l| (l, false));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if !is_int(item) {
            let kind = item.get_type().name()?;
            return Err(errors::invalid(format!(
                "labels[{i}] is a {kind}, but labels[0] is an integer: labels are all integers or all strings"
            )));
        }
        out.push(item.extract::<i64>()?.to_string());
    }
    Ok((out, true))
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
            int_labels: AtomicBool::new(false),
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
        let (labels, int_labels) = labels_of(labels)?;
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
        slf.get().int_labels.store(int_labels, Ordering::Relaxed);
        Ok(slf)
    }

    /// The most likely label of each text (integers for a model fitted
    /// on integers).
    fn predict(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyAny>>> {
        let texts = strings("texts", texts)?;
        let (model, _) = self.fitted()?;
        let (values, _) = self.classes(py, &model)?;
        let predicted: Vec<usize> = py.detach(|| {
            model
                .predict_batch(&texts)
                .into_iter()
                .map(|p| model.labels().iter().position(|l| l == &*p.label).unwrap_or(0))
                .collect()
        });
        Ok(predicted.into_iter().map(|i| values[i].clone_ref(py)).collect())
    }

    /// Each text's probability of every label, in `classes_` order.
    fn predict_proba(&self, py: Python<'_>, texts: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
        let texts = strings("texts", texts)?;
        let (model, _) = self.fitted()?;
        let (_, order) = self.classes(py, &model)?;
        let rows = py.detach(|| model.predict_proba_batch(&texts));
        Ok(rows
            .into_iter()
            .map(|row| order.iter().map(|&i| row[i]).collect())
            .collect())
    }

    /// The labels, sorted (as numbers for integer labels): the columns of
    /// `predict_proba`.
    #[getter]
    fn classes_(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let (model, _) = self.fitted()?;
        let (values, order) = self.classes(py, &model)?;
        Ok(order.into_iter().map(|i| values[i].clone_ref(py)).collect())
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
        Ok(TextClassifier::from_model(model, false))
    }

    /// The model's bytes; with integer labels, `(bytes, "int")`, so a
    /// pickle gives integers back too.
    fn __getstate__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.state.read().map(|s| s.is_none()).unwrap_or(false) {
            return Ok(None);
        }
        let bytes = self.to_bytes(py)?.into_any();
        if self.int_labels() {
            return Ok(Some(
                PyTuple::new(py, [bytes, PyString::new(py, "int").into_any()])?.into_any(),
            ));
        }
        Ok(Some(bytes))
    }

    fn __setstate__(&self, py: Python<'_>, state: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let Some(state) = state else {
            return Ok(());
        };
        let (bytes, int_labels) = match state.cast::<PyTuple>() {
            Ok(t) => (t.get_item(0)?, t.get_item(1)?.extract::<String>()? == "int"),
            Err(_) => (state.clone(), false),
        };
        let bytes: &[u8] = bytes
            .cast::<PyBytes>()
            .map_err(|_| errors::invalid("a TextClassifier's pickled state is its model's bytes"))?
            .as_bytes();
        let loaded = TextClassifier::from_bytes(py, bytes)?;
        if let Some(fitted) = loaded.state.into_inner().unwrap_or_else(|p| p.into_inner()) {
            self.set(fitted);
            self.int_labels.store(int_labels, Ordering::Relaxed);
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
