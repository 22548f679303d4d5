//! The environment a model was saved from: what a reader needs to load it
//! again (a pickle names the modules it imports, not their versions).
//! The Python package fills it on every save; `registry add
//! --requirements FILE` fills the requirements of any version.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most requirement lines (and packages) one version records.
pub const MAX_REQUIREMENTS: usize = 10_000;
/// The longest requirement line.
pub const MAX_REQUIREMENT_CHARS: usize = 1_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Environment {
    /// The interpreter: `CPython 3.11.7`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// `Linux-6.1.0-x86_64-with-glibc2.36` (Python's `platform.platform()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The distributions the model needs, with the versions it was saved
    /// under: `scikit-learn` → `1.9.1`.
    pub packages: BTreeMap<String, String>,
    /// The same as `pip install -r` lines: `scikit-learn==1.9.1`.
    pub requirements: Vec<String>,
    /// Top-level modules the model imports that no installed distribution
    /// provides (the saving project's own code): a reader needs them on
    /// its path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_modules: Vec<String>,
    /// Where the requirements came from: `pickle imports` or a file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The saving script, relative to its git checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The checkout's commit, and whether it had uncommitted changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
}

impl Environment {
    /// The requirements of a `requirements.txt` (`text`, read from
    /// `name`): every line but blanks and comments, and the pinned ones
    /// (`name==version`) as packages. An error names the line.
    pub fn from_requirements(text: &str, name: &str) -> Result<Environment, String> {
        let mut environment = Environment {
            source: Some(name.to_string()),
            ..Environment::default()
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.split(" #").next().unwrap_or_default().trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.chars().count() > MAX_REQUIREMENT_CHARS || line.chars().any(char::is_control) {
                return Err(format!(
                    "{name}, line {}: not a requirement (over {MAX_REQUIREMENT_CHARS} characters or a control character)",
                    i + 1
                ));
            }
            if environment.requirements.len() == MAX_REQUIREMENTS {
                return Err(format!("{name}: more than {MAX_REQUIREMENTS} requirements"));
            }
            if let Some((package, version)) = line.split_once("==") {
                let package = package.split('[').next().unwrap_or_default().trim();
                let version = version.split(';').next().unwrap_or_default().trim();
                if !package.is_empty() && !version.is_empty() {
                    environment.packages.insert(package.to_string(), version.to_string());
                }
            }
            environment.requirements.push(line.to_string());
        }
        Ok(environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_requirements_file_gives_its_lines_and_its_pins() {
        let text =
            "# pinned\nscikit-learn==1.9.1\nnumpy[extra]==2.1.0 ; python_version > '3.9'\n\njoblib>=1.3  # any\n";
        let env = Environment::from_requirements(text, "requirements.txt").unwrap();
        assert_eq!(
            env.requirements,
            [
                "scikit-learn==1.9.1",
                "numpy[extra]==2.1.0 ; python_version > '3.9'",
                "joblib>=1.3"
            ]
        );
        assert_eq!(env.packages.len(), 2);
        assert_eq!(env.packages["numpy"], "2.1.0");
        assert_eq!(env.source.as_deref(), Some("requirements.txt"));
        let e = Environment::from_requirements("ok==1\nbad\u{7}line\n", "r.txt").unwrap_err();
        assert!(e.contains("r.txt, line 2"), "{e}");
    }
}
