//! The native half of the Python package `modelreg` (`modelreg._native`).
//!
//! The package is split where the work is: this extension does what must
//! be fast and correct whatever Python does around it (storage, digests,
//! atomic saves, the classifier), on the same crates as the command-line
//! tools, so a version saved from Python is a version like any other. The
//! Python half (`python/modelreg/`) does what is Python's business:
//! turning objects into bytes (pickle, joblib, a custom serializer),
//! following an alias in a background thread, the exceptions' classes, the
//! documented API. See docs/PYTHON.md.
//!
//! What it gives Python (a PyO3 extension, so this example is Python's;
//! `.ci/python` runs the package's own tests and examples):
//!
//! ```python
//! import modelreg
//!
//! registry = modelreg.Registry("registry")
//! registry.save_model("1.0.0", {"weights": [1, 2]}, {"test_score": 0.91})
//! model, metadata = registry.get_latest_model()   # digests checked before unpickling
//! ```

use pyo3::prelude::*;

mod classifier;
mod errors;
mod follow;
mod registry;
mod serve;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<registry::NativeRegistry>()?;
    m.add_class::<follow::FollowState>()?;
    m.add_class::<classifier::TextClassifier>()?;
    m.add_function(wrap_pyfunction!(errors::error_classes, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    m.add("TEXTCLF_MODEL_TYPE", textclf::model_type())?;
    m.add("S3_SUPPORT", cfg!(feature = "s3"))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
