//! How good the search's time estimate is: `cargo run --release -p textclf
//! --example eta -- DATA.tsv [full|halving|auto] [BUDGET_SECONDS]` runs the
//! search with progress on, and compares every estimate with the time that
//! was in fact left (the run's end minus the moment of the estimate).
//! Prints, per round, the smallest and largest ratio of estimate to truth,
//! and the run's seconds (with a budget: against it); `ETA_ALL=1` prints
//! every estimate too.
use std::sync::Mutex;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: eta DATA.tsv [full|halving|auto] [BUDGET_SECONDS]")?;
    let strategy = match args.next().as_deref() {
        None | Some("auto") => textclf::Strategy::Auto,
        Some("full") => textclf::Strategy::Full,
        Some("halving") => textclf::Strategy::Halving,
        Some(other) => return Err(format!("unknown search {other:?}").into()),
    };
    let time_budget = args
        .next()
        .map(|s| s.parse::<f64>().map(std::time::Duration::from_secs_f64))
        .transpose()?;
    let data = textclf::Dataset::load(std::path::Path::new(&path))?;
    let texts: Vec<&str> = data.texts.iter().map(String::as_str).collect();
    let config = textclf::SearchConfig {
        strategy,
        time_budget,
        ..textclf::SearchConfig::default()
    };
    let start = Instant::now();
    // (seconds since start, round, estimate)
    let seen: Mutex<Vec<(f64, usize, f64)>> = Mutex::new(Vec::new());
    textclf::grid_search(&texts, &data.labels, &config, &|p| {
        if let (Some(eta), Ok(mut seen)) = (p.eta, seen.lock())
            && p.done < p.total
        {
            seen.push((start.elapsed().as_secs_f64(), p.round, eta));
        }
    })?;
    let end = start.elapsed().as_secs_f64();
    let seen = seen.into_inner().map_err(|_| "poisoned")?;
    let rounds = seen.iter().map(|s| s.1).max().unwrap_or(0) + 1;
    for round in 0..rounds {
        let ratios: Vec<f64> = seen
            .iter()
            .filter(|s| s.1 == round && end - s.0 > 0.05)
            .map(|&(at, _, eta)| eta / (end - at))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "round {}: {} estimates, estimate / time left {lo:.2} to {hi:.2}",
            round + 1,
            ratios.len()
        );
    }
    if std::env::var_os("ETA_ALL").is_some() {
        for &(at, round, eta) in &seen {
            println!(
                "  {at:.2} s, round {}: estimate {eta:.2} s, in fact {:.2} s",
                round + 1,
                end - at
            );
        }
    }
    match time_budget {
        Some(b) => println!("{end:.2} s for a budget of {:.0} s", b.as_secs_f64()),
        None => println!("{end:.2} s"),
    }
    Ok(())
}
