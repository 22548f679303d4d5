//! Registry errors as the Python exceptions of `modelreg.errors`.
//!
//! The exception classes are defined in Python (`python/modelreg/errors.py`)
//! so that they can also derive from the built-in exception a Python caller
//! would catch (`NotFound` is a `LookupError`, `InvalidName` a `ValueError`,
//! `StoreError` an `OSError`); this module only picks the class and passes
//! the message, the same text the command-line tools print. Which class
//! comes from the error's kind, registry-core's one table
//! (`ErrorKind::python_class`), as the exit codes and HTTP statuses do.

use pyo3::prelude::*;
use registry_core::RegistryError;
use registry_open::OpenError;

/// An instance of `modelreg.errors.<class>(message, code)`, or the error
/// that importing it raised.
pub fn raise(class: &str, code: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let made = py
            .import("modelreg.errors")
            .and_then(|m| m.getattr(class))
            .and_then(|cls| cls.call1((message, code)));
        match made {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        }
    })
}

/// A registry error as its Python exception.
pub fn registry(e: RegistryError) -> PyErr {
    let mut message = e.to_string();
    if matches!(e, RegistryError::VersionExists { .. }) {
        // The core's text names the command-line flag; here it is an argument.
        message = message.replace(
            "use --bump",
            "leave the version out and pass bump=\"patch\" (or \"minor\", \"major\")",
        );
    }
    raise(e.kind().python_class(), e.code(), message)
}

/// An error opening a registry as its Python exception.
pub fn open(e: OpenError) -> PyErr {
    raise(e.kind().python_class(), e.code(), e.to_string())
}

/// Every class the registry's errors can raise (`ErrorKind::python_class`),
/// so a test checks that `modelreg.errors` defines each.
#[pyfunction]
pub fn error_classes() -> Vec<&'static str> {
    registry_core::ErrorKind::ALL.iter().map(|k| k.python_class()).collect()
}

/// Bad input from the caller (`modelreg.errors.InvalidInput`, a `ValueError`).
pub fn invalid(message: impl Into<String>) -> PyErr {
    raise("InvalidInput", "invalid_input", message.into())
}
