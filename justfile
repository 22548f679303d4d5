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
    cargo run --release -q -p trainer -- --registry {{registry}}
    cargo run --release -q -p registry-cli -- --registry {{registry}} promote latest --to production --if-better \
        && echo "decision: the new version is now production" \
        || echo "decision: production unchanged (the new version scored lower; see above)"

# List versions with scores and aliases.
list:
    cargo run --release -q -p registry-cli -- --registry {{registry}} list

# Run the test suite (what CI runs).
test:
    cargo test --workspace

# Benchmarks (criterion).
bench:
    cargo bench --workspace

# modelreg against scikit-learn + joblib on the bundled data (installs scikit-learn into bench/python/.venv).
bench-compare:
    python3 bench/compare.py
