# Everyday recipes. Each is a plain cargo command; `just --list` shows them.

registry := env_var_or_default("MODELREG_DIR", "registry")

# Train on the bundled data and register a new version.
train *ARGS:
    cargo run --release -p trainer -- --registry {{registry}} {{ARGS}}

# Label a text with the latest model.
predict TEXT:
    cargo run --release -p predictor -- --registry {{registry}} "{{TEXT}}"

# Train a new version, then promote it to production only if it is at least as good.
train-and-promote:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release -q -p trainer -p registry-cli
    version=$(./target/release/trainer --registry {{registry}} --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
    echo "trained $version"
    if ./target/release/registry --registry {{registry}} promote "$version" --to production --if-better; then
        echo "decision: promoted $version to production"
    else
        echo "decision: kept production where it was ($version is worse)"
    fi

# List versions with scores and aliases.
list:
    cargo run --release -q -p registry-cli -- --registry {{registry}} list

# Run the test suite (what CI runs).
test:
    cargo test --workspace

# Benchmarks (criterion).
bench:
    cargo bench --workspace
