//! `python -m modelreg serve`: model-server's command line and server,
//! run inside this extension with the Python kind ([`kind`]) and dynamic
//! batching added. The flags, routes, limits, metrics, alias following and
//! signature checks are model-server's own (`model_server::cli`); only the
//! kind and the batching flags are added here.

mod kind;

use clap::Parser;
use model_server::batch::Batching;
use model_server::cli::{ServeArgs, run};
use model_server::kinds::Kinds;
use pyo3::prelude::*;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "python -m modelreg serve",
    disable_version_flag = true,
    about = "Serve registered models, Python objects (pickle, joblib) included, over model-server's HTTP API (/v1, the Open Inference Protocol's /v2, MLflow's /invocations), following their aliases"
)]
struct Args {
    /// Models to serve: models:/NAME@ALIAS (followed) or models:/NAME/VERSION (pinned); the first is the one /v1 and /invocations serve (same as --serve).
    targets: Vec<String>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Most inputs (texts, rows) in one call of a Python model: concurrent requests are joined into one call up to this.
    #[arg(long, default_value_t = 32)]
    max_batch_size: usize,
    /// Longest a request waits for others to join its batch: 2ms, 0.005, 1ms.
    #[arg(long, default_value = "2ms", value_parser = cli_support::parse::duration)]
    max_batch_wait: Duration,
    /// A batch also closes once no request has joined it for this long (at most --max-batch-wait): under load, requests come back in bursts.
    #[arg(long, default_value = "100us", value_parser = cli_support::parse::duration)]
    batch_gap: Duration,
    /// A custom serializer to decode versions saved with it (an object with loads, as given to save_model's serializer=), imported as MODULE:OBJECT; repeatable.
    #[arg(long = "serializer", value_name = "MODULE:OBJECT")]
    serializers: Vec<String>,
}

/// Runs the server with `argv` (the arguments after `serve`) until SIGTERM
/// or SIGINT; returns the exit code, the error printed on stderr as the
/// command-line tools print theirs.
#[pyfunction]
pub fn serve(py: Python<'_>, argv: Vec<String>) -> u8 {
    let parsed = Args::try_parse_from(std::iter::once("python -m modelreg serve".to_string()).chain(argv));
    let mut args = match parsed {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if !args.targets.is_empty() && (args.serve.alias.is_some() || args.serve.version.is_some()) {
        eprintln!("error: give models:/NAME@ALIAS targets or --alias/--version, not both");
        return 2;
    }
    args.serve.serve.append(&mut args.targets);
    // Requests wait in a batch on the blocking pool: room for several
    // batches' worth of them at once, not one per core.
    args.serve
        .prediction_threads
        .get_or_insert(4 * args.max_batch_size.max(1));
    let batching = Batching::new(args.max_batch_size, args.max_batch_wait).with_gap(args.batch_gap);
    let custom = match py
        .import("modelreg._serving")
        .and_then(|serving| serving.call_method1("configure", (args.serializers.clone(),)))
        .and_then(|names| names.extract::<Vec<String>>())
    {
        Ok(names) => names,
        Err(e) => {
            eprintln!("error: {}", e.value(py));
            return 2;
        }
    };
    let kinds = Kinds::default().with(Arc::new(kind::PythonKind {
        batching: batching.clone(),
        custom,
    }));
    // The GIL is free while the server runs: each batch takes it for its call.
    py.detach(|| cli_support::report(run(&args.serve, kinds, Some(batching))))
}
