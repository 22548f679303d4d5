//! Loads ONNX files as model-server would and says what it made of each:
//! `cargo run -p model-server --example onnx_load -- FILE...`.
fn main() {
    for path in std::env::args().skip(1) {
        match std::fs::read(&path) {
            Err(e) => println!("{path}: {e}"),
            Ok(bytes) => match model_server::kinds::onnx::OnnxModel::load(&bytes) {
                Ok(m) => println!("{path}: loaded {m:?}"),
                Err(e) => println!("{path}: refused: {e}"),
            },
        }
    }
}
