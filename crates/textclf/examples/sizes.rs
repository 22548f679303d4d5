//! Prints the artifact size of a model trained with the default grid
//! (debugging aid): `cargo run --release -p textclf --example sizes`.
fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/rotten_tomatoes_snippets.tsv");
    let data = textclf::Dataset::load(&path).unwrap();
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let (model, _) = textclf::grid_search(&texts, &data.labels, &textclf::SearchConfig::default(), &|_| {}).unwrap();
    let v = serde_json::to_value(&model).unwrap();
    for (k, x) in v.as_object().unwrap() {
        println!("{k}: {} JSON bytes", x.to_string().len());
    }
    println!("total postcard {}", model.to_bytes().unwrap().len());
}
