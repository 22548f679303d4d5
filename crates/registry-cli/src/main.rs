//! `registry`: inspect and manage a model registry: add, get, models, list,
//! show, promote, rollback, history, diff, delete, retain, gc, events, verify, copy,
//! report.
//!
//! `main` parses, `try_main` opens the registry and hands each subcommand to
//! one function (in `inspect` for the commands that only read, `manage` for
//! the others) that calls a library and prints; the policy (the promotion
//! gate, diff, copy) lives in `registry-core`. Exit codes: see `cli-support`.

mod cache;
mod cli;
mod events;
#[cfg(feature = "mlflow")]
mod import;
mod inspect;
mod manage;
mod reclaim;
mod register;
mod retire;
#[cfg(feature = "mlflow")]
mod serve;
mod signing;
#[cfg(feature = "webhooks")]
mod webhooks;

use clap::Parser;
use cli::{AliasCommand, Cli, Command};
use cli_support::Failure;
use std::process::ExitCode;

fn try_main(mut cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    if let Command::Cache { command } = &cli.command {
        return cache::run(&cli.registry, command, json);
    }
    if !cli.command.reads_cache() {
        cli.registry.no_cache = true;
    }
    if let Command::Copy { from, to, aliases } = &cli.command {
        // Copy works on two registries of its own, not on --registry.
        return manage::copy(
            &cli.registry.options(),
            from,
            to,
            cli.registry.model.as_deref(),
            *aliases,
            json,
        );
    }
    if let Command::Add(args) = &cli.command {
        // The only command that may create the registry and the model.
        let mut registry = cli
            .registry
            .open_model(None)?
            .with_validator(textclf_registry::validator());
        if let Some(signer) = args.sign.signer()? {
            registry = registry.with_signer(signer);
        }
        return register::add(&registry, args, json);
    }
    #[cfg(feature = "mlflow")]
    if let Command::ImportMlflow { tracking_uri } = &cli.command {
        // Into the models of the same names (created by their first
        // version); --model picks MLflow's models, not one of ours.
        let registry = cli.registry.open()?.with_validator(textclf_registry::validator());
        return import::import_mlflow(&registry, tracking_uri, cli.registry.model.as_deref(), json);
    }
    #[cfg(feature = "mlflow")]
    if let Command::Serve(args) = &cli.command {
        // Serves every model, and may create the registry (its first
        // registered version does).
        let registry = cli.registry.open()?.with_validator(textclf_registry::validator());
        return serve::serve(registry, args);
    }
    // Every other command reads first: a location with no registry, or a
    // model name that does not exist, is an error, not an empty registry.
    let registry = cli
        .registry
        .open_existing_model(cli.command.targets())?
        .with_validator(textclf_registry::validator());
    let r = &registry;
    // Without --model, commands over the whole registry (verify) cover
    // every model.
    let all_models = cli.registry.model.is_none();
    match cli.command {
        Command::Get { target, out, force } => register::get(r, &target, &out, force, json),
        Command::Models => register::models(r, json),
        Command::List(args) => inspect::list(r, &args, json),
        Command::Show { target, card } => inspect::show(r, &target, card, json),
        Command::History { alias } => inspect::history(r, &alias, json),
        Command::Diff { a, b, all } => inspect::diff(r, &a, &b, all, json),
        Command::Report { out } => manage::report(r, &out, json),
        Command::Promote {
            version,
            to,
            expect,
            if_better,
            metric,
            force,
            require_signature,
        } => {
            let gate = manage::gate(if_better, metric.as_deref(), force)?;
            if require_signature && !r.checks_signatures() {
                return Err(Failure::usage(
                    "--require-signature needs --trusted-key PUB.pem (or MODELREG_TRUSTED_KEYS): the keys whose signatures count",
                ));
            }
            manage::promote(r, &version, &to, expect.as_deref(), &gate, json)?;
            if require_signature {
                signing::require_signature(r, &to, false, json)?;
            }
            Ok(())
        }
        Command::Rollback { alias, to } => manage::rollback(r, &alias, to.as_deref(), json),
        Command::Alias {
            command: AliasCommand::Delete { alias, expect },
        } => retire::delete_alias(r, &alias, expect.as_deref(), json),
        Command::Alias {
            command: AliasCommand::RequireSignature { alias, off },
        } => signing::require_signature(r, &alias, off, json),
        Command::Sign {
            target,
            key,
            key_password_env,
        } => signing::sign(r, &target, &key, key_password_env.as_deref(), json),
        Command::Deprecate { target, reason, undo } => retire::deprecate(r, &target, reason.as_deref(), undo, json),
        Command::Delete { target, reason } => retire::delete(r, &target, reason.as_deref(), json),
        Command::Undelete { target } => retire::undelete(r, &target, json),
        Command::Events { since, follow } => events::events(r, since, follow, json),
        #[cfg(feature = "webhooks")]
        Command::Webhook { command } => webhooks::run(r, &command, json),
        Command::Gc { older_than, dry_run } => reclaim::gc(r, all_models, older_than, dry_run, json),
        Command::Retain {
            keep_last,
            keep_within,
            dry_run,
            save,
            clear,
        } => {
            let how = reclaim::RetainArgs {
                keep_last,
                keep_within,
                dry_run,
                save,
                clear,
            };
            reclaim::retain(r, &how, json)
        }
        Command::Verify { repair, older_than } => manage::verify(r, all_models, repair.then_some(older_than), json),
        Command::Copy { .. } | Command::Add(_) | Command::Cache { .. } => Ok(()),
        #[cfg(feature = "mlflow")]
        Command::Serve(_) | Command::ImportMlflow { .. } => Ok(()),
    }
}

fn main() -> ExitCode {
    cli_support::progress::install();
    let args = Cli::parse();
    let json = args.json;
    cli_support::finish_as(try_main(args), json)
}
