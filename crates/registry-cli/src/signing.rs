//! `registry sign` and `registry alias require-signature`.

use std::path::Path;

use crate::inspect::failure;
use cli_support::Failure;
use registry_core::AliasName;
use registry_open::AnyRegistry;
use serde_json::json;

/// Signs an existing version with the private key at `key`.
pub fn sign(
    registry: &AnyRegistry,
    target: &str,
    key: &Path,
    password_env: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let args = cli_support::SignArgs {
        sign_key: Some(key.to_path_buf()),
        key_password_env: password_env.map(str::to_string),
    };
    let signer = args.signer()?.ok_or_else(|| Failure::usage("--key is required"))?;
    let version = registry.resolve_target(target).map_err(failure)?;
    registry.sign_version(&version, signer.as_ref()).map_err(failure)?;
    let hint = signer.public_key().hint();
    let location = registry.signature_location(&version);
    if json {
        return cli_support::emit(&format!(
            "{}\n",
            json!({"version": version.to_string(), "signature": location, "key": hint})
        ));
    }
    cli_support::emit(&format!(
        "signed version {version} with key {} ({location}); verify with `registry verify --trusted-key PUB.pem` or `model_signing verify key`\n",
        &hint[..16]
    ))
}

/// Records (or removes) the policy that `alias` may only name signed
/// versions; setting it needs trusted keys, so that the alias's current
/// version is checked first.
pub fn require_signature(registry: &AnyRegistry, alias: &str, off: bool, json: bool) -> Result<(), Failure> {
    let alias: AliasName = alias.parse()?;
    if off && !registry.checks_signatures() {
        // Lifting a protection is deliberate: done by someone who holds the
        // public keys of the release signers, not by a tool run without them.
        return Err(Failure::usage(format!(
            "lifting the signature requirement on {alias} needs --trusted-key PUB.pem (the keys whose signatures it requires)"
        )));
    }
    if !off {
        if !registry.checks_signatures() {
            return Err(Failure::usage(format!(
                "requiring signatures for {alias} needs --trusted-key PUB.pem (its current version is checked first)"
            )));
        }
        match registry.alias_metadata(&alias) {
            Ok(_) | Err(registry_core::RegistryError::AliasNotFound { .. }) => {}
            Err(e) => return Err(failure(e)),
        }
    }
    let policy = registry.set_signature_required(&alias, !off).map_err(failure)?;
    if json {
        return cli_support::emit(&format!(
            "{}\n",
            json!({"alias": alias.to_string(), "required": !off, "signed_aliases": policy.signed_aliases})
        ));
    }
    cli_support::emit(&if off {
        format!("{alias} no longer requires signed versions\n")
    } else {
        format!("{alias} now requires signed versions: every tool refuses to load or move it without --trusted-key\n")
    })
}
