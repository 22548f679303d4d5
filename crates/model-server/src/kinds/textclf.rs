//! textclf's text classifiers, loaded by textclf-registry.

use super::{Failure, ModelKind, Prediction, ServedModel, TensorSpec};
use crate::oip::{InputTensor, OutputTensor, TensorData};
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
            name: "text".into(),
            datatype: "BYTES",
            shape: vec![-1],
        }]
    }

    fn outputs(&self) -> Vec<TensorSpec> {
        vec![
            TensorSpec {
                name: "label".into(),
                datatype: "BYTES",
                shape: vec![-1],
            },
            TensorSpec {
                name: "probabilities".into(),
                datatype: "FP32",
                shape: vec![-1, self.0.labels().len() as i64],
            },
        ]
    }

    fn labels(&self) -> &[String] {
        self.0.labels()
    }

    fn infer(&self, inputs: Vec<InputTensor>) -> Result<Vec<OutputTensor>, Failure> {
        let spec = &self.inputs()[0];
        let texts = super::texts_of(inputs, spec)?;
        let n = texts.len() as u64;
        let labels = self.0.labels();
        let predictions = self.predict(&texts, true)?;
        let mut probabilities = Vec::with_capacity(predictions.len() * labels.len());
        let mut named = Vec::with_capacity(predictions.len());
        for p in predictions {
            named.push(labels.get(p.label).map_or_else(Vec::new, |l| l.as_bytes().to_vec()));
            probabilities.extend(p.probabilities.unwrap_or_default().iter().map(|&x| x as f32));
        }
        let mut parameters = serde_json::Map::new();
        parameters.insert("labels".into(), serde_json::json!(labels));
        Ok(vec![
            OutputTensor {
                name: "label".into(),
                shape: vec![n],
                data: TensorData::Bytes(named),
                parameters: serde_json::Map::new(),
            },
            OutputTensor {
                name: "probabilities".into(),
                shape: vec![n, labels.len() as u64],
                data: TensorData::Fp32(probabilities),
                parameters,
            },
        ])
    }

    fn predict(&self, texts: &[String], probabilities: bool) -> Result<Vec<Prediction>, Failure> {
        Ok(SCRATCH.with(|scratch| {
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
        }))
    }
}
