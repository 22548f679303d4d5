//! Predicts every line of a file N times with a saved model (a profiling
//! aid): `cargo run --release -p textclf --example predict_loop -- MODEL.bin TEXTS.txt N`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = textclf::TextClassifier::from_bytes(&std::fs::read(&args[1])?)?;
    let text = std::fs::read_to_string(&args[2])?;
    let lines: Vec<&str> = text.lines().collect();
    let rounds: usize = args.get(3).map_or(Ok(10), |n| n.parse())?;
    let mut scratch = textclf::Scratch::default();
    let start = std::time::Instant::now();
    let mut positive = 0usize;
    for _ in 0..rounds {
        for l in &lines {
            positive += (model.predict_with(l, &mut scratch).label == "positive") as usize;
        }
    }
    let n = rounds * lines.len();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} predictions in {secs:.3} s: {:.0}/s ({positive} positive)",
        n as f64 / secs
    );
    Ok(())
}
