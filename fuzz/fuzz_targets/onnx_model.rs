//! ONNX bytes from a registry, whatever they are: model-server's loader
//! refuses them with a message or loads a model that answers a request of
//! its declared input shape (one row) with outputs or an error; it never
//! panics. Seed the corpus with fixtures/onnx/*.onnx.
#![no_main]
use libfuzzer_sys::fuzz_target;
use model_server::kinds::onnx::OnnxModel;
use model_server::kinds::ServedModel;
use model_server::oip::{InputTensor, TensorData};

fuzz_target!(|data: &[u8]| {
    let Ok(model) = OnnxModel::load(data) else {
        return;
    };
    let inputs: Vec<InputTensor> = model
        .inputs()
        .into_iter()
        .map(|spec| {
            let shape: Vec<u64> = spec.shape.iter().map(|&d| if d < 0 { 1 } else { d as u64 }).collect();
            let n = shape.iter().product::<u64>().min(1 << 16) as usize;
            let data = match spec.datatype {
                "FP64" => TensorData::Fp64(vec![0.5; n]),
                "INT64" => TensorData::Int64(vec![1; n]),
                "INT32" => TensorData::Int32(vec![1; n]),
                "BOOL" => TensorData::Bool(vec![true; n]),
                "BYTES" => TensorData::Bytes(vec![b"x".to_vec(); n]),
                _ => TensorData::Fp32(vec![0.5; n]),
            };
            InputTensor { name: spec.name, shape, data }
        })
        .collect();
    let _ = model.infer(inputs);
});
