# Everyday recipes. Each is a plain cargo command; `just --list` shows them.

registry := env_var_or_default("MODELREG_DIR", "registry")

# Train on the bundled data and register a new version.
train *ARGS:
    cargo run --release -p trainer -- --registry {{registry}} {{ARGS}}

# Label a text with the latest model.
predict TEXT:
    cargo run --release -p predictor -- --registry {{registry}} "{{TEXT}}"

# Train a new version; promote it to production only if at least as good on the same data (says why if not).
train-and-promote:
    #!/usr/bin/env bash
    set -u
    cargo run --release -q -p trainer -- --registry {{registry}} || exit $?
    cargo run --release -q -p registry-cli -- --registry {{registry}} promote latest --to production --if-better
    status=$?
    case $status in
        0) echo "decision: production names the newest version" ;;
        1) echo "decision: production unchanged: the gate refused the new version (reason above)" ;;
        *) echo "decision: production unchanged: the promotion failed with exit $status (reason above)"; exit $status ;;
    esac

# List versions with scores and aliases.
list:
    cargo run --release -q -p registry-cli -- --registry {{registry}} list

# One self-contained HTML page of the registry (versions, score chart, alias history, model cards).
report OUT="modelreg-report.html":
    cargo run --release -q -p registry-cli -- --registry {{registry}} report --out {{OUT}}

# Run the test suite (the README's command).
test:
    cargo test --workspace --all-features

# The same with the local S3 server (moto, installed on first use) up, so the S3 tests run instead of skipping.
test-s3:
    eval "$(.ci/s3-test-server)" && MODELREG_REQUIRE_S3=1 cargo test --workspace --all-features

# Everything CI runs: format, lints, tests, examples, S3 and browser tests.
ci:
    bash .ci/run

# Benchmarks (criterion).
bench:
    cargo bench --workspace

# modelreg against scikit-learn + joblib on the bundled data (installs scikit-learn into bench/python/.venv).
bench-compare:
    python3 bench/compare.py

# A FACTOR x corpus of recombined Rotten Tomatoes snippets for scaling measurements (bench/corpus-FACTOR.tsv).
corpus FACTOR:
    cargo run --release -p textclf --example corpus -- {{FACTOR}} bench/corpus-{{FACTOR}}.tsv

# Training cost at 1x, 4x and 16x the bundled data: full grid vs the default (halving), seconds and peak memory.
bench-scale:
    python3 bench/scale.py

# The Python package against the seed's joblib directory and MLflow (installs both into bench/python/.venv-python).
bench-python:
    python3 bench/python_api.py

# registry serve against mlflow server (sqlite), the same mlflow client script (installs mlflow into bench/python/.venv-mlflow).
bench-mlflow:
    python3 bench/mlflow_api.py

# python -m modelreg serve against FastAPI + uvicorn and MLServer (adaptive batching) serving the same scikit-learn pipeline (wrk, oha; installs into bench/python/.venv-serve).
bench-python-serve:
    python3 bench/serve_python.py

# model-server against FastAPI + uvicorn + scikit-learn under wrk (apt-get install wrk; installs the Python side into bench/python/.venv-serve).
bench-serve:
    python3 bench/serve.py

# Large files: add/get/verify of 1, 3 and 8 GiB against cp + sync, S3 (moto) against boto3, cached against uncached loads, with peak memory (needs ~24 GB free under target/).
bench-large *GIB:
    python3 bench/large.py {{GIB}}
