//! `predictor`: load a registered text classifier and label texts.
//! `cargo run -p predictor -- "this is great"` uses `latest`.

use clap::Parser;
use cli_support::{Exit, Failure};
use registry_core::{AliasName, ModelMetadata, RegistryError, Target, TargetSpec};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;
use textclf::{Scratch, TextClassifier};

#[derive(Parser, Debug)]
#[command(
    disable_version_flag = true,
    about = "Label texts with a registered model",
    long_about = "Label texts with a registered model. Texts come from the arguments, or one per line from standard input when there are none."
)]
struct Args {
    /// Texts to classify; none: read one text per line from stdin.
    texts: Vec<String>,
    #[command(flatten)]
    registry: cli_support::RegistryArgs,
    /// Use this version instead of latest (or models:/NAME/VERSION).
    #[arg(long, conflicts_with = "alias")]
    version: Option<String>,
    /// Use the version this alias points to, e.g. production (or models:/NAME@ALIAS).
    #[arg(long)]
    alias: Option<String>,
    /// Print JSON lines with text, label, probability and version.
    #[arg(long)]
    json: bool,
    /// Longest line read from stdin, in bytes: a longer one is labelled by
    /// its first this many bytes (with a warning), so memory stays bounded
    /// whatever the input.
    #[arg(long, default_value_t = 1 << 20, value_parser = clap::value_parser!(u32).range(1..))]
    max_line_bytes: u32,
}

fn explain(e: RegistryError) -> Failure {
    match e {
        RegistryError::Empty { root } => Failure::new(
            Exit::NotFound,
            format!(
                "registry {root} has no models yet; train one with `cargo run -p trainer` (or point --registry / MODELREG_DIR at another registry)"
            ),
        ),
        other => other.into(),
    }
}

/// The model and its metadata, loaded by textclf-registry: the version's
/// model type is checked first (a registered ONNX file is refused by name,
/// not by a decoding error), then the model's bytes against the metadata's
/// digests, and they are decoded only if they match.
fn load(args: &Args) -> Result<(TextClassifier, ModelMetadata), Failure> {
    let named = args.version.as_deref().or(args.alias.as_deref());
    let registry = args.registry.open_existing_model(named).map_err(|e| match e {
        registry_open::OpenError::Registry(e) => explain(e),
        other => other.into(),
    })?;
    let target = match (&args.version, &args.alias) {
        (Some(v), _) => {
            let spec: TargetSpec = v.parse().map_err(explain)?;
            if let (None, Target::Alias(a)) = (&spec.model, &spec.target) {
                // `--version production`: the user meant the alias.
                return Err(Failure::usage(format!(
                    "\"{a}\" is an alias, not a version: use --alias {a}"
                )));
            }
            spec.target
        }
        (None, Some(a)) => a.parse::<TargetSpec>().map_err(explain)?.target,
        (None, None) => Target::Alias(AliasName::latest()),
    };
    let metadata = registry.target_metadata(&target).map_err(explain)?;
    textclf_registry::load_classifier(&registry, metadata).map_err(explain)
}

fn try_main(args: Args) -> Result<(), Failure> {
    let (model, metadata) = load(&args)?;
    let version = metadata.version.to_string();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut scratch = Scratch::default();
    let mut answer = |text: &str, out: &mut BufWriter<_>| -> std::io::Result<()> {
        let p = model.predict_with(text, &mut scratch);
        if args.json {
            let line = serde_json::json!({
                "text": text, "label": p.label, "probability": p.probability, "version": version,
            });
            writeln!(out, "{line}")
        } else {
            writeln!(out, "{}\t{}", p.label, four_decimals(p.probability))
        }
    };
    let io_err = Failure::writing;
    if args.texts.is_empty() {
        // Stream: one line in, one line out, nothing accumulated.
        let stdin = std::io::stdin();
        let mut reader = stdin.lock();
        let mut line = Vec::new();
        let cap = args.max_line_bytes as usize;
        let mut warned = false;
        for number in 1u64.. {
            let read = read_line_capped(&mut reader, &mut line, cap)
                .map_err(|e| Failure::new(Exit::Io, format!("cannot read standard input: {e}")))?;
            let Some(truncated) = read else { break };
            if truncated && !warned {
                eprintln!(
                    "warning: line {number} of standard input is longer than {cap} bytes: it is labelled by its first {cap} bytes (--max-line-bytes; further long lines likewise)"
                );
                warned = true;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches('\r');
            answer(text, &mut out).map_err(io_err)?;
        }
    } else {
        for text in &args.texts {
            answer(text, &mut out).map_err(io_err)?;
        }
    }
    out.flush().map_err(io_err)?;
    // The process ends next: handing the model's few megabytes back page by
    // page would cost about a millisecond of a few-millisecond run.
    std::mem::forget(model);
    std::mem::forget(metadata);
    Ok(())
}

/// Reads one line of `reader` into `line` (without its newline), keeping
/// its first `cap` bytes and skipping the rest: `None` at the end of the
/// input, else whether the line was cut. Memory stays at `cap` bytes
/// however long the line.
fn read_line_capped(reader: &mut impl BufRead, line: &mut Vec<u8>, cap: usize) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut truncated, mut any) = (false, false);
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(truncated));
        }
        any = true;
        let newline = buf.iter().position(|&b| b == b'\n');
        let chunk = &buf[..newline.unwrap_or(buf.len())];
        let take = chunk.len().min(cap.saturating_sub(line.len()));
        line.extend_from_slice(&chunk[..take]);
        truncated |= take < chunk.len();
        let consumed = newline.map_or(buf.len(), |i| i + 1);
        reader.consume(consumed);
        if newline.is_some() {
            return Ok(Some(truncated));
        }
    }
}

/// `p` with four decimals, as `{:.4}` prints it for a probability, without
/// the exact-decimal formatting machinery (6% of a batch run's time).
fn four_decimals(p: f64) -> String {
    let scaled = (p.clamp(0.0, 1.0) * 10_000.0).round() as u32;
    format!("{}.{:04}", scaled / 10_000, scaled % 10_000)
}

fn main() -> ExitCode {
    cli_support::progress::install();
    let args = Args::parse();
    let json = args.json;
    cli_support::finish_as(try_main(args), json)
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_lines_are_cut_and_short_ones_kept() {
        let input = b"short\r\n0123456789abcdef\n\nlast without newline";
        let mut reader = std::io::BufReader::with_capacity(4, &input[..]);
        let mut line = Vec::new();
        let mut got = Vec::new();
        while let Some(cut) = super::read_line_capped(&mut reader, &mut line, 8).unwrap() {
            got.push((String::from_utf8(line.clone()).unwrap(), cut));
        }
        let want = [("short\r", false), ("01234567", true), ("", false), ("last wit", true)];
        assert_eq!(got, want.map(|(s, c)| (s.to_string(), c)));
    }

    #[test]
    fn four_decimals_matches_std_formatting() {
        for i in 0..=100_000u32 {
            let p = i as f64 / 100_000.0;
            // Ties (x.xxxx5) may round either way: compare away from them.
            if (p * 10_000.0).fract() == 0.5 {
                continue;
            }
            assert_eq!(super::four_decimals(p), format!("{p:.4}"), "{p}");
        }
        assert_eq!(super::four_decimals(1.0), "1.0000");
        assert_eq!(super::four_decimals(0.99999), "1.0000");
    }
}
