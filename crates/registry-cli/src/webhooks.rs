//! `registry webhook add|list|remove|test|deliver` (registry-webhooks does
//! the work: configuration, the outbox, signed delivery).

use cli_support::{Exit, Failure, printable};
use registry_open::AnyRegistry;
use registry_webhooks as wh;
use std::fmt::Write;
use std::time::Duration;

#[derive(clap::Subcommand, Debug)]
pub enum WebhookCommand {
    /// Send the registry's events to URL, signed with a secret (HMAC-SHA256, MLflow's scheme with X-Modelreg-* headers); it gets the events after now.
    Add {
        url: String,
        /// The signing secret, 16 characters or more (`openssl rand -hex 32`); stored in the registry (docs/SECURITY.md).
        #[arg(long, conflicts_with = "secret_env", required_unless_present = "secret_env")]
        secret: Option<String>,
        /// Read the secret from this environment variable instead (keeps it out of `ps` and shell history).
        #[arg(long)]
        secret_env: Option<String>,
        /// The kinds of events to send, comma-separated.
        #[arg(long, default_value = "promote,rollback,delete,save")]
        events: String,
    },
    /// Every webhook, with how many events wait for it.
    List,
    /// Stop sending to a webhook (by id or URL).
    Remove { webhook: String },
    /// Send a signed test delivery now and say what the receiver answered.
    Test { webhook: String },
    /// Send every pending event to every webhook (in order, each until one fails); exit 5 if any stays pending.
    Deliver {
        /// How long one delivery may take: 10s, 500ms.
        #[arg(long, default_value = "10s", value_parser = cli_support::parse::age)]
        timeout: Duration,
    },
}

fn failure(e: wh::WebhookError) -> Failure {
    Failure::new(Exit::of(e.kind()), e.to_string())
}

pub fn run(registry: &AnyRegistry, command: &WebhookCommand, json: bool) -> Result<(), Failure> {
    let store: &dyn registry_core::store::Store = registry.store();
    let mut out = String::new();
    match command {
        WebhookCommand::Add {
            url,
            secret,
            secret_env,
            events,
        } => {
            let secret = match (secret, secret_env) {
                (Some(s), _) => s.clone(),
                (None, Some(var)) => std::env::var(var)
                    .map_err(|_| Failure::usage(format!("--secret-env {var}: that environment variable is not set")))?,
                (None, None) => return Err(Failure::usage("give --secret or --secret-env")),
            };
            let events = wh::parse_events(events).map_err(failure)?;
            let actor = registry_core::Actor::current();
            let hook = wh::add(store, url, &secret, events, actor).map_err(failure)?;
            if json {
                let mut v = serde_json::to_value(&hook).unwrap_or_default();
                v["secret"] = serde_json::json!("(hidden)");
                let _ = writeln!(out, "{v}");
            } else {
                let _ = writeln!(
                    out,
                    "added webhook {} for {} ({}): it gets the events after {}; `registry webhook test {}` sends a test delivery",
                    hook.id,
                    hook.url,
                    hook.events.join(","),
                    hook.since,
                    hook.id
                );
            }
        }
        WebhookCommand::List => {
            let mut docs = Vec::new();
            for hook in wh::list(store).map_err(failure)? {
                let waiting = wh::pending(store, &hook, 10_000).map_err(failure)?.len();
                if json {
                    docs.push(serde_json::json!({
                        "id": hook.id, "url": hook.url, "events": hook.events,
                        "since": hook.since, "pending": waiting,
                    }));
                } else {
                    let _ = writeln!(
                        out,
                        "{}  {}  {}  {waiting} pending",
                        hook.id,
                        hook.url,
                        hook.events.join(",")
                    );
                }
            }
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&docs).unwrap_or_default());
            } else if out.is_empty() {
                out.push_str("no webhooks (`registry webhook add URL --secret S` adds one)\n");
            }
        }
        WebhookCommand::Remove { webhook } => {
            let hook = wh::remove(store, webhook).map_err(failure)?;
            let _ = writeln!(out, "removed webhook {} ({})", hook.id, hook.url);
        }
        WebhookCommand::Test { webhook } => {
            let hook = wh::find(store, webhook).map_err(failure)?;
            let d = wh::test_delivery(&hook, Duration::from_secs(10));
            let said = describe(&d);
            if !d.ok() {
                return Err(Failure::new(Exit::Io, format!("test delivery to {}: {said}", hook.url)));
            }
            let _ = writeln!(out, "test delivery {} to {}: {said}", d.delivery_id, hook.url);
        }
        WebhookCommand::Deliver { timeout } => {
            let mut failed = Vec::new();
            let mut docs = Vec::new();
            for hook in wh::list(store).map_err(failure)? {
                let deliveries = wh::deliver_pending(store, &hook, *timeout, usize::MAX).map_err(failure)?;
                for d in &deliveries {
                    if json {
                        docs.push(serde_json::to_value(d).unwrap_or_default());
                    } else {
                        let _ = writeln!(
                            out,
                            "event {} to {} ({}): {}",
                            d.event,
                            hook.url,
                            d.delivery_id,
                            describe(d)
                        );
                    }
                    if !d.ok() {
                        failed.push(format!("{} ({})", hook.id, printable(&describe(d), false)));
                    }
                }
            }
            if json {
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&docs).unwrap_or_default());
            }
            cli_support::emit(&out)?;
            if !failed.is_empty() {
                return Err(Failure::new(
                    Exit::Io,
                    format!(
                        "events stay pending for {}; run `registry webhook deliver` again once the receiver is back",
                        failed.join(", ")
                    ),
                ));
            }
            return Ok(());
        }
    }
    cli_support::emit(&out)
}

fn describe(d: &wh::Delivery) -> String {
    match &d.outcome {
        Ok(status) if (200..300).contains(status) => format!("delivered ({status})"),
        Ok(status) => format!("the receiver answered {status}"),
        Err(e) => format!("not delivered: {e}"),
    }
}
