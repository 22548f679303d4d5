//! What a person names a model by: a version (`1.0.2`), an alias
//! (`production`, `latest`), or an MLflow-style model URI naming the model
//! too (`models:/spam@production`, `models:/spam/1.0.2`).

use super::Registry;
use crate::error::{RegistryError, Result};
use crate::names::{AliasName, ModelName, ModelVersion};
use crate::store::Store;

/// The URI scheme of a model target, as MLflow writes it.
pub const URI_SCHEME: &str = "models:/";

/// A version or an alias of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Version(ModelVersion),
    Alias(AliasName),
    /// An MLflow-style version number (`models:/spam/2`): the version the
    /// model's version numbers give it (numbers.rs).
    Number(u64),
}

/// A parsed target: what it names, and for a `models:/` URI which model
/// (`Some(None)`: the default model, written `models:/default@...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub model: Option<Option<ModelName>>,
    pub target: Target,
}

impl std::str::FromStr for TargetSpec {
    type Err = RegistryError;

    /// `1.0.2`, `production`, `models:/NAME@ALIAS` or `models:/NAME/VERSION`.
    fn from_str(input: &str) -> Result<TargetSpec> {
        let Some(rest) = input.strip_prefix(URI_SCHEME) else {
            return Ok(TargetSpec {
                model: None,
                target: parse_plain(input)?,
            });
        };
        let bad = |reason: String| RegistryError::InvalidUri {
            input: input.to_string(),
            reason,
        };
        let (name, target) = if let Some((name, alias)) = rest.split_once('@') {
            let alias: AliasName = alias.parse().map_err(|e: RegistryError| bad(e.to_string()))?;
            (name, Target::Alias(alias))
        } else if let Some((name, version)) = rest.split_once('/') {
            if !version.is_empty() && version.len() <= 19 && version.bytes().all(|b| b.is_ascii_digit()) {
                let number = version
                    .parse()
                    .map_err(|_| bad(format!("{version} is too large a version number")))?;
                (name, Target::Number(number))
            } else {
                let version: ModelVersion = version.parse().map_err(|e: RegistryError| bad(e.to_string()))?;
                (name, Target::Version(version))
            }
        } else {
            return Err(bad("no @ALIAS or /VERSION after the model name".into()));
        };
        let model = ModelName::parse_optional(name).map_err(|e| bad(e.to_string()))?;
        Ok(TargetSpec {
            model: Some(model),
            target,
        })
    }
}

fn parse_plain(input: &str) -> Result<Target> {
    let version_error = match input.parse::<ModelVersion>() {
        Ok(v) => return Ok(Target::Version(v)),
        Err(e) => e,
    };
    match input.parse::<AliasName>() {
        Ok(alias) => Ok(Target::Alias(alias)),
        Err(alias_error) => Err(RegistryError::InvalidTarget {
            input: input.to_string(),
            version_error: version_error.to_string(),
            alias_error: alias_error.to_string(),
        }),
    }
}

/// The model a command works on, from its `--model` option and the
/// `models:/` URIs among its targets: they must agree; with neither, the
/// default model. `Ok(None)` is the default model.
pub fn choose_model<'a>(option: Option<&str>, targets: impl IntoIterator<Item = &'a str>) -> Result<Option<ModelName>> {
    let mut chosen: Option<(Option<ModelName>, String)> = match option {
        Some(name) => Some((ModelName::parse_optional(name)?, format!("--model {name}"))),
        None => None,
    };
    for text in targets {
        let Some(model) = text.parse::<TargetSpec>()?.model else {
            continue;
        };
        match &chosen {
            Some((m, source)) if *m != model => {
                return Err(RegistryError::InvalidUri {
                    input: text.to_string(),
                    reason: format!("it names another model than {source}; a command works on one model"),
                });
            }
            Some(_) => {}
            None => chosen = Some((model, text.to_string())),
        }
    }
    Ok(chosen.and_then(|(m, _)| m))
}

impl<S: Store> Registry<S> {
    /// A version (`1.0.2`) as it is, or an alias (`production`, `latest`)
    /// resolved to the version it names now; a `models:/` URI must name
    /// this handle's model (see [`choose_model`]).
    pub fn resolve_target(&self, target: &str) -> Result<ModelVersion> {
        let spec: TargetSpec = target.parse()?;
        if let Some(model) = &spec.model
            && model.as_ref() != self.model_name()
        {
            return Err(RegistryError::InvalidUri {
                input: target.to_string(),
                reason: format!(
                    "it names model {}, but this command works on model {}",
                    model.as_ref().map_or(ModelName::DEFAULT, ModelName::as_str),
                    self.model_name().map_or(ModelName::DEFAULT, ModelName::as_str)
                ),
            });
        }
        match spec.target {
            Target::Version(v) => Ok(v),
            Target::Alias(alias) => Ok(self.resolve(&alias)?.version),
            Target::Number(n) => self.version_by_number(n, false),
        }
    }

    /// The metadata of what `target` names now (an alias: the version it
    /// points to; a number: the version numbered so), through the read path.
    pub fn target_metadata(&self, target: &Target) -> Result<crate::metadata::ModelMetadata> {
        match target {
            Target::Version(v) => self.metadata(v),
            Target::Alias(a) => self.alias_metadata(a),
            Target::Number(n) => self.metadata(&self.version_by_number(*n, false)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> TargetSpec {
        s.parse().unwrap()
    }

    #[test]
    fn plain_targets_and_uris_parse() {
        assert_eq!(spec("1.0.2").target, Target::Version("1.0.2".parse().unwrap()));
        assert_eq!(spec("production").model, None);
        let uri = spec("models:/spam@production");
        assert_eq!(uri.model, Some(Some("spam".parse().unwrap())));
        assert_eq!(uri.target, Target::Alias("production".parse().unwrap()));
        assert_eq!(
            spec("models:/spam/2").target,
            Target::Number(2),
            "MLflow's integer form"
        );
        assert!("models:/spam/99999999999999999999".parse::<TargetSpec>().is_err());
        let uri = spec("models:/spam/2.0.0-rc.1");
        assert_eq!(uri.target, Target::Version("2.0.0-rc.1".parse().unwrap()));
        assert_eq!(spec("models:/default@latest").model, Some(None));
    }

    #[test]
    fn malformed_uris_are_refused_with_the_reason() {
        for (input, reason) in [
            ("models:/spam", "no @ALIAS or /VERSION"),
            ("models:/Spam@production", "must start with a lower-case letter"),
            ("models:/spam@", "it is empty"),
            ("models:/spam/one", "unexpected character"),
            ("models:/@production", "it is empty"),
            ("models:/spam@prod/1.0.0", "not allowed"),
        ] {
            let err = input.parse::<TargetSpec>().unwrap_err().to_string();
            assert!(err.contains(reason), "{input}: {err}");
            assert!(err.contains("models:/NAME@ALIAS"), "{input}: {err}");
        }
    }

    #[test]
    fn the_model_option_and_uris_must_agree() {
        assert_eq!(choose_model(None, ["1.0.0"]).unwrap(), None);
        let spam = Some("spam".parse().unwrap());
        assert_eq!(choose_model(None, ["models:/spam@production"]).unwrap(), spam);
        assert_eq!(choose_model(Some("spam"), ["1.0.0"]).unwrap(), spam);
        assert_eq!(choose_model(Some("default"), ["models:/default/1.0.0"]).unwrap(), None);
        let err = choose_model(Some("spam"), ["models:/ham@production"]).unwrap_err();
        assert!(err.to_string().contains("--model spam"), "{err}");
        assert!(choose_model(None, ["models:/spam/1.0.0", "models:/ham/1.0.0"]).is_err());
    }
}
