//! A requirements file (`registry add --requirements FILE`) and a
//! metadata document's `environment`: any text gives an environment or an
//! error naming a line, never a panic; what is kept is within the caps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use registry_core::{Environment, MAX_REQUIREMENT_CHARS, MAX_REQUIREMENTS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(env) = Environment::from_requirements(&text, "fuzz.txt") {
        assert!(env.requirements.len() <= MAX_REQUIREMENTS);
        assert!(env.packages.len() <= env.requirements.len());
        for line in &env.requirements {
            assert!(!line.is_empty() && line.chars().count() <= MAX_REQUIREMENT_CHARS);
            assert!(!line.chars().any(char::is_control), "{line:?}");
        }
    }
    let _ = serde_json::from_slice::<Environment>(data);
});
