//! What the trainer prints: progress while it searches, the summary after.

use textclf::Progress;

/// How often a plain progress line is printed when stderr is not a terminal.
pub const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `trainer: round 2/3, 6 candidates on 30,000 rows, 120/540 fits (22%), 14 s elapsed, ETA 49 s`.
pub fn progress_line(p: Progress, elapsed: std::time::Duration) -> String {
    format!("trainer: {}, {}", progress_message(p), timing(p, elapsed))
}

/// What the search is doing: the round, its candidates and rows.
pub fn progress_message(p: Progress) -> String {
    let round = if p.rounds > 1 {
        format!("round {}/{}, ", p.round + 1, p.rounds)
    } else {
        String::new()
    };
    format!("{round}{} candidates on {} rows", p.candidates, thousands(p.rows))
}

/// The search's own estimate of the time left (from what its fits cost:
/// counting fits, as this did, said "ETA 1 s" through a last round of 30 s).
pub fn eta(p: Progress) -> String {
    p.eta.map_or_else(|| "unknown".to_string(), |s| format!("{s:.0} s"))
}

fn timing(p: Progress, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let eta = eta(p);
    format!(
        "{}/{} fits ({:.0}%), {secs:.0} s elapsed, ETA {eta}",
        p.done,
        p.total,
        100.0 * p.done as f64 / p.total.max(1) as f64
    )
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
