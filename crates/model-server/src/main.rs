//! `model-server`: the command line of [`model_server::cli`] with the
//! built-in model kinds (see the crate docs in lib.rs).

use clap::Parser;
use model_server::cli::{ServeArgs, run};
use model_server::kinds::Kinds;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    disable_version_flag = true,
    about = "Serve registered models over HTTP (modelreg's /v1, the Open Inference Protocol's /v2), following their aliases"
)]
struct Args {
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    cli_support::progress::install();
    cli_support::finish(run(&Args::parse().serve, Kinds::default(), None))
}
