#!/usr/bin/env python3
"""model-server against FastAPI + uvicorn + scikit-learn, one run, same
machine, same load generator: `just bench-serve` (or `python3 bench/serve.py`).

Both servers get the same requests from wrk (2 threads, 16 connections,
BENCH_SECONDS each, default 10): one text per request, then 32. FastAPI
runs one uvicorn worker around a TF-IDF + logistic regression pipeline
trained on the bundled data and loaded with joblib; model-server serves the
trainer's default model from a fresh registry. Peak resident memory is the
server's VmHWM after its runs. Needs wrk (Debian: `apt-get install wrk`);
installs FastAPI, uvicorn and scikit-learn into bench/python/.venv-serve.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / "python" / ".venv-serve"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
DATA = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"
TEXT = "an unexpectedly moving film with a great cast"


def python():
    return venv_python(VENV, ROOT / "bench" / "python" / "requirements-serve.txt")


TRAIN = """
import csv, sys, joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8"), delimiter="\\t", quoting=csv.QUOTE_NONE))
model = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)), ("lr", LogisticRegression(C=10, max_iter=1000))])
model.fit([r["text"] for r in rows], [r["label"] for r in rows])
joblib.dump(model, sys.argv[2])
"""


def wait_ready(url, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def wrk(url, texts, tmp):
    body = json.dumps({"texts": [f"{TEXT} {i}" for i in range(texts)]})
    script = tmp / f"post{texts}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{SECONDS}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rps,
        "texts_per_s": rps * texts,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(name, cmd, env, ready, url, tmp):
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(ready, proc)
        result = {texts: wrk(url, texts, tmp) for texts in (1, 32)}
        result["rss_mb"] = peak_rss_mb(proc.pid)
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    py = python()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "model-server"], cwd=ROOT, check=True)
    target = ROOT / "target" / "release"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        joblib_path = tmp / "model.joblib"
        subprocess.run([py, "-c", TRAIN, str(DATA), str(joblib_path)], check=True)
        registry = tmp / "registry"
        subprocess.run([str(target / "trainer"), "--quiet", "--data", str(DATA), "--registry", str(registry)], check=True)
        subprocess.run(
            [str(target / "registry"), "--registry", str(registry), "promote", "latest", "--to", "production"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        env = dict(os.environ, MODEL_PATH=str(joblib_path))
        fastapi = measure(
            "fastapi",
            [py, "-m", "uvicorn", "serve_fastapi:app", "--port", "8091", "--workers", "1", "--log-level", "warning",
             "--app-dir", str(ROOT / "bench" / "python")],
            env,
            "http://127.0.0.1:8091/healthz",
            "http://127.0.0.1:8091/v1/predict",
            tmp,
        )
        rust = measure(
            "model-server",
            [str(target / "model-server"), "--registry", str(registry), "--listen", "127.0.0.1:8092"],
            dict(os.environ),
            "http://127.0.0.1:8092/readyz",
            "http://127.0.0.1:8092/v1/predict",
            tmp,
        )
    print(f"wrk -t2 -c16 -d{SECONDS}s, one run each, {os.cpu_count()} cores\n")
    print("| texts/request | server | requests/s | texts/s | p50 | p99 | non-2xx |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for texts in (1, 32):
        for name, r in (("FastAPI + uvicorn + scikit-learn", fastapi), ("model-server", rust)):
            m = r[texts]
            print(
                f"| {texts} | {name} | {m['rps']:,.0f} | {m['texts_per_s']:,.0f} | {m['p50_ms']:.2f} ms | "
                f"{m['p99_ms']:.2f} ms | {m['errors']} |"
            )
        ratio = rust[texts]["rps"] / fastapi[texts]["rps"]
        print(f"| {texts} | ratio | {ratio:.0f}× | {ratio:.0f}× | | | |")
    print(f"\npeak resident memory: FastAPI {fastapi['rss_mb']:.0f} MB, model-server {rust['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
