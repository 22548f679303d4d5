//! textclf's text classifiers, loaded by textclf-registry.

use super::{ModelKind, Prediction, ServedModel, TensorSpec};
use registry_core::{ModelMetadata, RegistryError};
use registry_open::AnyRegistry;
use std::cell::RefCell;
use textclf::{Scratch, TextClassifier};

thread_local! {
    /// Per-thread buffers for featurising a text: no allocation per request.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

pub struct TextClf;

impl ModelKind for TextClf {
    fn model_type(&self) -> String {
        textclf::model_type()
    }

    fn accepts(&self, metadata: &ModelMetadata) -> bool {
        textclf_registry::is_classifier(metadata)
    }

    fn load(
        &self,
        registry: &AnyRegistry,
        metadata: ModelMetadata,
    ) -> Result<(Box<dyn ServedModel>, ModelMetadata), RegistryError> {
        let (model, metadata) = textclf_registry::load_classifier(registry, metadata)?;
        Ok((Box::new(Classifier(model)), metadata))
    }
}

#[derive(Debug)]
struct Classifier(TextClassifier);

impl ServedModel for Classifier {
    fn model_type(&self) -> String {
        textclf::model_type()
    }

    fn inputs(&self) -> Vec<TensorSpec> {
        vec![TensorSpec {
            name: "text",
            datatype: "BYTES",
            shape: vec![-1],
        }]
    }

    fn outputs(&self) -> Vec<TensorSpec> {
        vec![
            TensorSpec {
                name: "label",
                datatype: "BYTES",
                shape: vec![-1],
            },
            TensorSpec {
                name: "probabilities",
                datatype: "FP32",
                shape: vec![-1, self.0.labels().len() as i64],
            },
        ]
    }

    fn labels(&self) -> &[String] {
        self.0.labels()
    }

    fn predict(&self, texts: &[String], probabilities: bool) -> Vec<Prediction> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            texts
                .iter()
                .map(|text| {
                    let probs = self.0.predict_proba_with(text, &mut scratch);
                    let (label, probability) = probs.iter().enumerate().fold(
                        (0, f64::NEG_INFINITY),
                        |(bi, bp), (i, &p)| if p > bp { (i, p) } else { (bi, bp) },
                    );
                    Prediction {
                        label,
                        probability,
                        probabilities: probabilities.then(|| probs.to_vec()),
                    }
                })
                .collect()
        })
    }
}
