#!/usr/bin/env python3
"""`registry serve` against `mlflow server` (sqlite backend, its defaults),
one run, same machine, the same client script (bench/python/mlflow_client.py,
the real mlflow client): `just bench-mlflow` (or `python3 bench/mlflow_api.py`).

Rows: the whole flow of crates/mlflow-server/tests/python/flow.py (a new
Python process: imports and training included); log_model with
registration (median of 5); load_model("models:/bench@production")
(median of 5); creating 1,000 versions of one model (per version); a
search_model_versions returning those 1,000 (median of 5);
get_model_version_by_alias over 1,000 calls (p50/p99), with the client and
raw on one kept-alive connection. Prints a Markdown table with ratios.

Installs mlflow into bench/python/.venv-mlflow; uses target/release/registry
(built if absent: `cargo build --release -p registry-cli`).
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQS = ROOT / "crates" / "mlflow-server" / "tests" / "python" / "requirements-3.txt"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, proc):
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        except OSError:
            assert proc.poll() is None, "server exited"
            assert time.time() < deadline, "server did not start"
            time.sleep(0.2)


def measure(py, command, url):
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait(url, proc)
        out = subprocess.run(
            [py, str(ROOT / "bench" / "python" / "mlflow_client.py")],
            env={**os.environ, "MLFLOW_TRACKING_URI": url},
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            sys.exit(out.stderr[-3000:])
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    py = venv_python(ROOT / "bench" / "python" / ".venv-mlflow", REQS)
    registry = ROOT / "target" / "release" / "registry"
    if not registry.exists():
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "registry-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        port = free_port()
        mlflow_bin = str(pathlib.Path(py).parent / "mlflow")
        theirs = measure(
            py,
            [mlflow_bin, "server", "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
             "--artifacts-destination", str(tmp / "artifacts"), "--host", "127.0.0.1", "--port", str(port)],
            f"http://127.0.0.1:{port}",
        )
        port = free_port()
        ours = measure(
            py,
            [str(registry), "--registry", str(tmp / "reg"), "serve", "--listen", f"127.0.0.1:{port}"],
            f"http://127.0.0.1:{port}",
        )
    rows = [
        ("whole flow (flow.py, new process)", "flow_s", "s"),
        ("log_model + registration", "log_model_s", "s"),
        ("load_model(models:/bench@production)", "load_model_s", "s"),
        ("create_model_version (per version, 1,000)", "create_version_ms", "ms"),
        ("search_model_versions, 1,000 versions (client)", "search_1000_s", "s"),
        ("same search (raw, kept-alive)", "search_1000_raw_s", "s"),
        ("get_model_version_by_alias p50 (client)", "alias_p50_ms", "ms"),
        ("get_model_version_by_alias p99 (client)", "alias_p99_ms", "ms"),
        ("same call p50 (raw, kept-alive)", "alias_raw_p50_ms", "ms"),
        ("same call p99 (raw, kept-alive)", "alias_raw_p99_ms", "ms"),
    ]
    print("| | mlflow server (sqlite) | registry serve | ratio |")
    print("|---|---:|---:|---:|")
    for label, key, unit in rows:
        a, b = theirs[key], ours[key]
        print(f"| {label} | {a:.4g} {unit} | {b:.4g} {unit} | {a / b:.1f}x |")
    print(json.dumps({"mlflow": theirs, "modelreg": ours}), file=sys.stderr)


if __name__ == "__main__":
    main()
