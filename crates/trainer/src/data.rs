//! Where the training data and grid come from, and what code trained.

use std::path::{Path, PathBuf};
use textclf::Grid;

/// The bundled training data, relative to the workspace root.
pub const DEFAULT_DATA: &str = "fixtures/rotten_tomatoes_snippets.tsv";

/// The bundled data, found from the current directory or from the source
/// tree this binary was built from (so `cargo run -p trainer` works from
/// any directory of the checkout).
pub fn resolve_data(path: &Path) -> PathBuf {
    if path.exists() || path != Path::new(DEFAULT_DATA) {
        return path.to_path_buf();
    }
    let from_source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DEFAULT_DATA);
    if from_source.exists() {
        from_source
    } else {
        path.to_path_buf()
    }
}

/// Reads a grid: JSON (`.json`), or TOML with a `grid` array of sub-grids.
pub fn load_grid(path: &Path) -> Result<Grid, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read grid {}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        return Grid::from_json(&text).map_err(|e| format!("{}: {e}", path.display()));
    }
    #[derive(serde::Deserialize)]
    struct TomlGrid {
        grid: Grid,
    }
    toml::from_str::<TomlGrid>(&text)
        .map(|g| g.grid)
        .map_err(|e| format!("{}: invalid grid: {e}", path.display()))
}

pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
