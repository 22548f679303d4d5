#!/usr/bin/env python3
"""model-server against the servers people use instead, one run, same
machine, same load generators: `just bench-serve` (or `python3 bench/serve.py`).

- Text: FastAPI + uvicorn around the seed's scikit-learn pipeline (TF-IDF +
  logistic regression, joblib, one worker) against model-server serving the
  trainer's default model, over /v1/predict with one text and with 32, and
  model-server over the Open Inference Protocol v2
  (/v2/models/default/infer, one text).
- Iris: Seldon MLServer's sklearn runtime serving a RandomForest (joblib)
  against model-server serving the same forest exported by skl2onnx, both
  over /v2/models/iris/infer, one row, labels and probabilities.
- Latency at a fixed rate, not at saturation: oha sends BENCH_RATE requests/s
  (default 5,000) to model-server for BENCH_SECONDS, with latency correction.

wrk runs 2 threads and 16 connections for BENCH_SECONDS (default 10) per
row. Peak resident memory is each server's VmHWM after its runs. Needs wrk
(Debian: `apt-get install wrk`); installs oha with cargo and FastAPI,
uvicorn, scikit-learn, skl2onnx and MLServer into bench/python/.venv-serve.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import serve_iris
from loadgen import oha_fixed_rate, wrk
from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / "python" / ".venv-serve"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
RATE = int(os.environ.get("BENCH_RATE", "5000"))
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


def peak_rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post(url, body):
    """One request (a GET when `body` is None) before the load, so a
    benchmark of refusals cannot pass for a benchmark of answers."""
    data = body.encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, (url, response.status)
        return json.loads(response.read())


def measure(cmd, env, ready, runs, rss=peak_rss_mb):
    """Starts a server, waits for `ready`, then runs each (name, url, body,
    load) of `runs`; returns {name: result} and the peak memory (`rss` of
    the server's pid: its main process by default)."""
    # Its own process group, so a server's workers (MLServer's inference
    # pool) stop with it.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_ready(ready, proc, seconds=180)
        results = {}
        for name, url, body, load in runs:
            post(url, body)
            results[name] = load(url, body)
        results["rss_mb"] = rss(proc.pid)
        return results
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def texts_body(n):
    return json.dumps({"texts": [f"{TEXT} {i}" for i in range(n)]})


def v2_text_body():
    return json.dumps({"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [TEXT]}]})


def ms(x):
    return f"{x:.2f} ms"


def main():
    py = python()
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "registry-cli", "-p", "model-server"],
        cwd=ROOT,
        check=True,
    )
    target = ROOT / "target" / "release"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        joblib_path = tmp / "model.joblib"
        subprocess.run([py, "-c", TRAIN, str(DATA), str(joblib_path)], check=True)
        registry = tmp / "registry"
        subprocess.run([str(target / "trainer"), "--quiet", "--data", str(DATA), "--registry", str(registry)], check=True)
        mlserver_repo, onnx = serve_iris.prepare(py, tmp, 8093)

        def registry_cli(*args):
            subprocess.run([str(target / "registry"), "--registry", str(registry), *args], check=True,
                           stdout=subprocess.DEVNULL)

        registry_cli("promote", "latest", "--to", "production")
        registry_cli("--model", "iris", "add", str(onnx), "--type", "onnx")
        registry_cli("--model", "iris", "promote", "latest", "--to", "production")

        def saturate(url, body):
            return wrk(url, body, tmp, SECONDS)

        def fixed(url, body):
            return oha_fixed_rate(url, body, RATE, SECONDS)

        fastapi = measure(
            [py, "-m", "uvicorn", "serve_fastapi:app", "--port", "8091", "--workers", "1", "--log-level", "warning",
             "--app-dir", str(ROOT / "bench" / "python")],
            dict(os.environ, MODEL_PATH=str(joblib_path)),
            "http://127.0.0.1:8091/healthz",
            [(n, "http://127.0.0.1:8091/v1/predict", texts_body(n), saturate) for n in (1, 32)],
        )
        mlserver = measure(
            [str(pathlib.Path(py).parent / "mlserver"), "start", str(mlserver_repo)],
            dict(os.environ),
            "http://127.0.0.1:8093/v2/models/iris/ready",
            [("iris", "http://127.0.0.1:8093/v2/models/iris/infer", serve_iris.mlserver_body(), saturate)],
        )
        base = "http://127.0.0.1:8092"
        text_v2, iris = f"{base}/v2/models/default/infer", f"{base}/v2/models/iris/infer"
        rust = measure(
            [str(target / "model-server"), "--registry", str(registry), "--listen", "127.0.0.1:8092",
             "--serve", "models:/default@production", "--serve", "models:/iris@production"],
            dict(os.environ),
            f"{base}/readyz",
            [(1, f"{base}/v1/predict", texts_body(1), saturate),
             (32, f"{base}/v1/predict", texts_body(32), saturate),
             ("v2", text_v2, v2_text_body(), saturate),
             ("iris", iris, serve_iris.model_server_body(), saturate),
             ("fixed_live", f"{base}/v2/health/live", None, fixed),
             ("fixed_text", text_v2, v2_text_body(), fixed),
             ("fixed_iris", iris, serve_iris.model_server_body(), fixed)],
        )
    report(fastapi, mlserver, rust)


def report(fastapi, mlserver, rust):
    print(f"wrk -t2 -c16 -d{SECONDS}s, one run each, {os.cpu_count()} cores\n")
    print("| request | server | requests/s | p50 | p99 | non-2xx | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = [
        ("/v1/predict, 1 text", fastapi[1], rust[1]),
        ("/v1/predict, 32 texts", fastapi[32], rust[32]),
        ("1 text: FastAPI /v1/predict vs model-server /v2 infer", fastapi[1], rust["v2"]),
    ]
    for what, anchor, ours in rows:
        print(f"| {what} | FastAPI + uvicorn + scikit-learn | {anchor['rps']:,.0f} | {ms(anchor['p50_ms'])} | "
              f"{ms(anchor['p99_ms'])} | {anchor['errors']} | |")
        print(f"| {what} | model-server | {ours['rps']:,.0f} | {ms(ours['p50_ms'])} | {ms(ours['p99_ms'])} | "
              f"{ours['errors']} | {ours['rps'] / anchor['rps']:.0f}× |")
    anchor, ours = mlserver["iris"], rust["iris"]
    print(f"| iris, 1 row, /v2 infer | MLServer + mlserver-sklearn | {anchor['rps']:,.0f} | {ms(anchor['p50_ms'])} | "
          f"{ms(anchor['p99_ms'])} | {anchor['errors']} | |")
    print(f"| iris, 1 row, /v2 infer | model-server (ONNX) | {ours['rps']:,.0f} | {ms(ours['p50_ms'])} | "
          f"{ms(ours['p99_ms'])} | {ours['errors']} | {ours['rps'] / anchor['rps']:.0f}× |")
    print(f"\noha -q {RATE} -z {SECONDS}s -c 16 --latency-correction, model-server\n")
    # The first row is the floor: the same load on a route that does no
    # model work, so what the machine and the load generator add to the
    # tail is in the same table as what the model does.
    print("| request | achieved requests/s | p50 | p99 | p99.9 | failed | cut by oha at the deadline |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for what, key in (("floor: GET /v2/health/live", "fixed_live"),
                      ("text, 1 per request, /v2 infer", "fixed_text"),
                      ("iris, 1 row, /v2 infer", "fixed_iris")):
        r = rust[key]
        print(f"| {what} | {r['rps']:,.0f} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {ms(r['p999_ms'])} | "
              f"{r['failed']} of {r['ended']} | {r['cut']} |")
    print(f"\npeak resident memory: FastAPI {fastapi['rss_mb']:.0f} MB, MLServer {mlserver['rss_mb']:.0f} MB "
          f"(its main process), model-server {rust['rss_mb']:.0f} MB (both models)")


if __name__ == "__main__":
    main()
