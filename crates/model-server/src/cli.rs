//! The command line of a server: its flags, what they ask to serve, and
//! the run with its errors mapped to exit codes. The `model-server` binary
//! is this; `python -m modelreg serve` is this with the Python kind and
//! batching added, so both take the same flags and behave the same.

use crate::batch::Batching;
use crate::kinds::Kinds;
use crate::{Options, ServeError, api::Limits, models::ServeTarget, served::LoadError};
use cli_support::{Exit, Failure};
use registry_core::{Target, TargetSpec};
use std::time::Duration;

/// Every flag of a server.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub registry: cli_support::RegistryArgs,
    /// A model to serve: models:/NAME@ALIAS (followed) or models:/NAME/VERSION (pinned); repeatable, the first is the one /v1 serves. Without it: --model with --alias or --version.
    #[arg(long, conflicts_with_all = ["alias", "version"])]
    pub serve: Vec<String>,
    /// The alias to serve and follow (models:/NAME@ALIAS works too; default production).
    #[arg(long)]
    pub alias: Option<String>,
    /// Serve this version and never move (instead of following --alias).
    #[arg(long, conflicts_with = "alias")]
    pub version: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// How often to read the alias: 1, 0.5, 250ms, 1m (seconds without a unit).
    #[arg(long, default_value = "1", value_parser = cli_support::parse::duration)]
    pub poll: Duration,
    /// Most texts in one request (413 beyond).
    #[arg(long, default_value_t = 1000)]
    pub max_texts: usize,
    /// Largest request body, in bytes (413 beyond).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// How long a client may take to send its request body (408 beyond): 10, 10s, 500ms.
    #[arg(long, default_value = "10", value_parser = cli_support::parse::duration)]
    pub request_timeout: Duration,
    /// How long in-flight requests get to finish after SIGTERM/SIGINT: 10, 10s, 1m.
    #[arg(long, default_value = "10", value_parser = cli_support::parse::duration)]
    pub drain_timeout: Duration,
    /// How long after a failed load of the alias's version it is tried again: 1, 500ms (doubling to 60 s while it fails; /readyz says "degraded" meanwhile).
    #[arg(long, default_value = "1", value_parser = cli_support::parse::duration)]
    pub retry_after: Duration,
    /// Most connections open at once; one more gets a 503 and is closed (lowered to fit `ulimit -n`).
    #[arg(long, default_value_t = 1000)]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, from when it connects: 10, 10s, 500ms.
    #[arg(long, default_value = "10", value_parser = cli_support::parse::duration)]
    pub header_read_timeout: Duration,
    /// How long a connection may sit with nothing sent either way before it is closed: 60, 60s, 1m.
    #[arg(long, default_value = "60", value_parser = cli_support::parse::duration)]
    pub idle_timeout: Duration,
    /// Predictions of bodies over 16 KiB run at once, off the threads that read requests and answer /healthz (default: one per core).
    #[arg(long)]
    pub prediction_threads: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

fn failure(e: ServeError) -> Failure {
    match e {
        ServeError::Load { source, what } => match *source {
            LoadError::Registry(inner) => {
                let f: Failure = inner.into();
                Failure::new(f.exit, format!("cannot serve {what}: {}", f.message))
            }
            // The alias moved during the first load: run again.
            moved @ LoadError::Moved { .. } => Failure::new(Exit::Refused, format!("cannot serve {what}: {moved}")),
        },
        ServeError::Io(_) => Failure::new(Exit::Io, e.to_string()),
        ServeError::NothingToServe => Failure::usage(e.to_string()),
    }
}

/// What `--serve` (or the `--model`/`--alias`/`--version` shorthand) asks
/// to serve, each with the model it names.
fn targets(args: &ServeArgs) -> Result<Vec<ServeTarget>, Failure> {
    if args.serve.is_empty() {
        let alias = args.alias.as_deref().unwrap_or("production");
        let given = [alias].into_iter().chain(args.version.as_deref());
        let model = args.registry.model(given)?;
        let target = match &args.version {
            Some(v) => match v.parse::<TargetSpec>()?.target {
                Target::Version(v) => Target::Version(v),
                Target::Number(n) => Target::Number(n),
                Target::Alias(a) => {
                    return Err(Failure::usage(format!("--version {a} is an alias: use --alias {a}")));
                }
            },
            None => match alias.parse::<TargetSpec>()?.target {
                Target::Alias(a) => Target::Alias(a),
                Target::Version(v) => {
                    return Err(Failure::usage(format!("--alias {v} is a version: use --version {v}")));
                }
                Target::Number(n) => {
                    return Err(Failure::usage(format!(
                        "--alias {alias} names version number {n}: use --version"
                    )));
                }
            },
        };
        return Ok(vec![ServeTarget { model, target }]);
    }
    let mut targets = Vec::with_capacity(args.serve.len());
    for given in &args.serve {
        let spec: TargetSpec = given.parse()?;
        let model = match spec.model {
            Some(model) => model,
            // A bare alias or version: of --model's model (or the default).
            None => args.registry.model([given.as_str()])?,
        };
        let target = ServeTarget {
            model,
            target: spec.target,
        };
        if targets.contains(&target) {
            return Err(Failure::usage(format!("--serve {given} is given twice")));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Serves what `args` ask for with `kinds` (and, for kinds that batch,
/// `batching`) until SIGTERM or SIGINT.
pub fn run(args: &ServeArgs, kinds: Kinds, batching: Option<Batching>) -> Result<(), Failure> {
    let serve = targets(args)?;
    // Each target names its model; the handle opened here is the registry's.
    let registry = std::sync::Arc::new(args.registry.open_existing()?);
    // Webhooks pending in the registry (a receiver that was down, a
    // command killed before its own attempt) go out from here, with backoff.
    #[cfg(feature = "webhooks")]
    registry_webhooks::spawn_deliverer(registry.clone(), |hook, failed, wait| {
        let why = match &failed.outcome {
            Ok(status) => format!("answered {status}"),
            Err(e) => e.clone(),
        };
        crate::log::event(
            "webhook_failed",
            &[
                ("webhook", hook.id.clone()),
                ("event_id", failed.event.to_string()),
                ("why", why),
                ("retry_in_s", wait.as_secs().to_string()),
            ],
        );
    });
    let options = Options {
        serve,
        poll: args.poll,
        limits: Limits {
            max_texts: args.max_texts.max(1),
            max_body_bytes: args.max_body_bytes.max(1),
            body_timeout: args.request_timeout,
            prediction_threads: args
                .prediction_threads
                .unwrap_or(Limits::default().prediction_threads)
                .max(1),
        },
        connections: crate::listen::ConnectionLimits {
            max_connections: args.max_connections.max(1),
            header_read_timeout: args.header_read_timeout,
            idle_timeout: args.idle_timeout,
        },
        drain_timeout: args.drain_timeout,
        retry_after: args.retry_after,
        kinds,
        batching,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Io, format!("cannot start the runtime: {e}")))?;
    let outcome = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure::new(Exit::Io, format!("cannot listen on {}: {e}", args.listen)))?;
        crate::run(registry.clone(), options, listener, crate::shutdown_signal())
            .await
            .map_err(failure)
    });
    // The runtime first (its tasks hold the registry), then the registry,
    // outside any async context (see `model_server::run`).
    drop(runtime);
    drop(registry);
    outcome
}
