//! A textclf classifier in a modelreg registry: the one place that knows
//! both. `registry-core` knows no model type and `textclf` knows no
//! storage; every front end (predictor, model-server, registry, trainer,
//! the Python package) goes through this crate to
//!
//! * load a classifier from a version, the model type checked before a
//!   byte is decoded and the bytes checked against their digests
//!   ([`load_classifier`], [`is_classifier`]);
//! * validate a version that claims to be a classifier ([`validator`],
//!   run by `verify` and before every alias move);
//! * record what a search found ([`search_info`]) and train and register a
//!   new version ([`train_and_register`]).
//!
//! So an undecodable model is the same error, with the same exit code,
//! Python class and HTTP status, whichever tool meets it.
//!
//! ```
//! use registry_core::store::MemoryStore;
//! use registry_core::{ModelInfo, ModelVersion, Registry};
//! use textclf::{ClassifierConfig, TextClassifier, VectorizerConfig};
//!
//! let texts = ["a great film", "great fun", "a dull film", "dull and slow"];
//! let labels: Vec<String> = ["pos", "pos", "neg", "neg"].iter().map(|s| s.to_string()).collect();
//! let model = TextClassifier::fit(&texts, &labels, VectorizerConfig::default(),
//!     ClassifierConfig::LogisticRegression { c: 10.0 })?;
//!
//! let registry = Registry::open_store(MemoryStore::new())?.with_validator(textclf_registry::validator());
//! let v: ModelVersion = "1.0.0".parse()?;
//! let info = ModelInfo { model_type: Some(textclf::model_type()), ..ModelInfo::default() };
//! registry.save_model(&v, &model, info)?;
//!
//! let metadata = registry.metadata(&v)?;
//! assert!(textclf_registry::is_classifier(&metadata));
//! let (loaded, _) = textclf_registry::load_classifier(&registry, metadata)?;
//! assert_eq!(loaded.predict("great").label, "pos");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod load;
mod train;

pub use load::{MAX_CLASSIFIER_BYTES, decode, is_classifier, load_classifier, require_classifier, validator};
pub use train::{TrainError, TrainOptions, TrainOutcome, search_info, train_and_register};
