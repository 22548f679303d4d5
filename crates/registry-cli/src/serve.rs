//! `registry serve`: the MLflow-compatible API (the `mlflow-server`
//! crate) on this registry, until SIGTERM or Ctrl-C.

use cli_support::{Exit, Failure};
use registry_open::AnyRegistry;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default: expose it on purpose).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub listen: String,
    /// A file holding the token every request must carry as
    /// `Authorization: Bearer` (what the client sends from MLFLOW_TRACKING_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With --token-file: reads need no token, only writes do.
    #[arg(long, requires = "token_file")]
    pub public_reads: bool,
    /// Refuse every write: log, register, alias moves, uploads.
    #[arg(long)]
    pub read_only: bool,
    /// The largest artifact one upload may carry (e.g. 2GB).
    #[arg(long, value_parser = cli_support::parse::size, default_value = "16GB")]
    pub max_artifact_bytes: u64,
    /// Most connections open at once; one more is answered 503.
    #[arg(long, default_value_t = 1000)]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    #[arg(long, value_parser = cli_support::parse::duration, default_value = "10s")]
    pub header_read_timeout: Duration,
    /// How long a connection may sit idle (no bytes either way) before it is closed.
    #[arg(long, value_parser = cli_support::parse::duration, default_value = "60s")]
    pub idle_timeout: Duration,
}

/// The token in `path`: its first line, which must not be empty.
fn read_token(path: &std::path::Path) -> Result<String, Failure> {
    let text = registry_core::local_files::read_small_text(path, 4096)
        .map_err(|e| Failure::usage(format!("--token-file {}: {e}", path.display())))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(Failure::usage(format!(
            "--token-file {}: the file is empty; put the token on its first line",
            path.display()
        )));
    }
    Ok(token)
}

pub fn serve(registry: AnyRegistry, args: &ServeArgs) -> Result<(), Failure> {
    let token = args.token_file.as_deref().map(read_token).transpose()?;
    if !args.read_only {
        // Runs and uploads are written before any version: the location
        // must be a registry (verify, gc) from the first of them.
        registry.create_if_absent().map_err(Failure::from)?;
    }
    let options = mlflow_server::Options {
        read_only: args.read_only,
        token,
        public_reads: args.public_reads,
        max_artifact_bytes: args.max_artifact_bytes,
        connections: mlflow_server::ConnectionLimits {
            max_connections: args.max_connections,
            header_read_timeout: args.header_read_timeout,
            idle_timeout: args.idle_timeout,
        },
        ..mlflow_server::Options::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The registry's calls run here: bounded, so a flood of requests
        // queues instead of starting a thread each.
        .max_blocking_threads(64)
        .build()
        .map_err(|e| Failure::new(Exit::Io, format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        eprintln!(
            "registry serve: {} on http://{addr} (MLFLOW_TRACKING_URI=http://{addr}){}",
            registry.registry_location(),
            if args.read_only { ", read-only" } else { "" }
        );
        mlflow_server::run(registry, options, listener, mlflow_server::shutdown_signal())
            .await
            .map_err(|e| Failure::new(Exit::Io, format!("serving failed: {e}")))
    })
}
