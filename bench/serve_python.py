#!/usr/bin/env python3
"""`python -m modelreg serve` against the ways a scikit-learn text pipeline
is served today, one run, same machine, same load: `just
bench-python-serve` (or `python3 bench/serve_python.py`).

The model is the seed's pipeline (TF-IDF + logistic regression on the
bundled Rotten Tomatoes snippets), saved once with joblib:

- FastAPI + uvicorn (one worker) loads the joblib file and answers
  /v1/predict (bench/python/serve_fastapi.py);
- Seldon MLServer's scikit-learn runtime serves the same file over the
  Open Inference Protocol v2 with adaptive batching on (max_batch_size 32,
  max_batch_time 2 ms: the same limits as modelreg's defaults);
- `python -m modelreg serve` serves the version `save_model` made of it
  (joblib), over /v1/predict and /v2 infer, batching with its defaults
  (32 texts, 2 ms).

wrk: 2 threads, 16 connections, 1 text per request, BENCH_SECONDS (default
10) per row. Then each server at half of its own measured maximum with oha
(latency-corrected) for the p99. Peak resident memory is the VmHWM of
every process of the server (MLServer's inference worker included).
Needs wrk (`apt-get install wrk`); installs oha with cargo, FastAPI,
uvicorn, MLServer and maturin into bench/python/.venv-serve, and builds
the modelreg wheel (release) into it.
"""
import json
import os
import pathlib
import subprocess
import tempfile

from loadgen import oha_fixed_rate, wrk
import serve
from serve import TEXT, TRAIN, python

ROOT = pathlib.Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
DATA = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"

SAVE = """
import sys, joblib, modelreg
registry = modelreg.Registry(sys.argv[2])
registry.save_model("1.0.0", joblib.load(sys.argv[1]), {"description": "the seed's pipeline"})
registry.promote("1.0.0", "production")
"""


def install_modelreg(py, tmp):
    """The package as a user installs it: a release wheel (maturin)."""
    wheels = tmp / "wheels"
    maturin = pathlib.Path(py).parent / "maturin"
    subprocess.run([str(maturin), "build", "--release", "-q", "-m", str(ROOT / "crates" / "modelreg-py" / "Cargo.toml"),
                    "-o", str(wheels)], check=True)
    wheel = next(wheels.glob("modelreg-*.whl"))
    subprocess.run([py, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)], check=True)


def mlserver_repo(tmp, joblib_path, port):
    repo = tmp / "mlserver"
    (repo / "spam").mkdir(parents=True)
    (repo / "spam" / "model.joblib").write_bytes(joblib_path.read_bytes())
    (repo / "settings.json").write_text(json.dumps(
        {"debug": False, "host": "127.0.0.1", "http_port": port, "grpc_port": port + 1, "metrics_port": port + 2}))
    (repo / "spam" / "model-settings.json").write_text(json.dumps(
        {"name": "spam", "implementation": "mlserver_sklearn.SKLearnModel", "parameters": {"uri": "./model.joblib"},
         "max_batch_size": 32, "max_batch_time": 0.002}))
    return repo


def v2_body(content_type=False):
    given = {"name": "text", "shape": [1], "datatype": "BYTES", "data": [TEXT]}
    if content_type:
        # MLServer decodes BYTES as raw bytes unless told they are strings.
        given["parameters"] = {"content_type": "str"}
    return json.dumps({"inputs": [given]})


def v1_body():
    return json.dumps({"texts": [TEXT]})


def group_peak_mb(pid):
    """The sum of VmHWM over the server's process group (its workers)."""
    total = 0
    for status in pathlib.Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if os.getpgid(int(status.parent.name)) != pid:
                continue
        except (OSError, ProcessLookupError):
            continue
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def saturate_then_half(tmp):
    """A load: wrk at saturation, then oha at half the requests/s wrk
    measured (its result under "fixed")."""

    def load(url, body):
        result = wrk(url, body, tmp, SECONDS)
        result["fixed"] = oha_fixed_rate(url, body, max(1, int(result["rps"] / 2)), SECONDS)
        return result

    return load


def measure(cmd, env, ready, runs, tmp):
    """serve.measure with each (name, url, body) of `runs` under
    saturate_then_half, and the memory of the whole process group."""
    load = saturate_then_half(tmp)
    return serve.measure(cmd, env, ready, [(name, url, body, load) for name, url, body in runs], rss=group_peak_mb)


def main():
    py = python()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        install_modelreg(py, tmp)
        joblib_path = tmp / "model.joblib"
        subprocess.run([py, "-c", TRAIN, str(DATA), str(joblib_path)], check=True)
        registry = tmp / "registry"
        subprocess.run([py, "-c", SAVE, str(joblib_path), str(registry)], check=True)
        env = dict(os.environ)
        fastapi = measure(
            [py, "-m", "uvicorn", "serve_fastapi:app", "--port", "8091", "--workers", "1", "--log-level", "warning",
             "--app-dir", str(ROOT / "bench" / "python")],
            dict(env, MODEL_PATH=str(joblib_path)),
            "http://127.0.0.1:8091/healthz",
            [("v1", "http://127.0.0.1:8091/v1/predict", v1_body())],
            tmp,
        )
        mlserver = measure(
            [str(pathlib.Path(py).parent / "mlserver"), "start", str(mlserver_repo(tmp, joblib_path, 8093))],
            env,
            "http://127.0.0.1:8093/v2/models/spam/ready",
            [("v2", "http://127.0.0.1:8093/v2/models/spam/infer", v2_body(content_type=True))],
            tmp,
        )
        base = "http://127.0.0.1:8095"
        ours = measure(
            [py, "-m", "modelreg", "serve", "models:/default@production", "--registry", str(registry),
             "--listen", "127.0.0.1:8095"],
            env,
            f"{base}/readyz",
            [("v1", f"{base}/v1/predict", v1_body()), ("v2", f"{base}/v2/models/default/infer", v2_body())],
            tmp,
        )
    report(fastapi, mlserver, ours)


def ms(x):
    return f"{x:.2f} ms"


def report(fastapi, mlserver, ours):
    print(f"wrk -t2 -c16 -d{SECONDS}s, 1 text per request; then oha at half each row's maximum, "
          f"--latency-correction; {os.cpu_count()} cores shared by server and load\n")
    print("| request | server | requests/s | p50 | p99 | non-2xx | ratio | p99 at half max (rate) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")

    def row(what, name, r, anchor):
        ratio = f"{r['rps'] / anchor['rps']:.1f}×" if anchor is not None else ""
        f = r["fixed"]
        print(f"| {what} | {name} | {r['rps']:,.0f} | {ms(r['p50_ms'])} | {ms(r['p99_ms'])} | {r['errors']} | {ratio} | "
              f"{ms(f['p99_ms'])} ({f['rps']:,.0f}/s, {f['failed']} failed) |")

    row("/v1/predict", "FastAPI + uvicorn + scikit-learn", fastapi["v1"], None)
    row("/v1/predict", "python -m modelreg serve", ours["v1"], fastapi["v1"])
    row("/v2 infer", "MLServer + mlserver-sklearn, adaptive batching", mlserver["v2"], None)
    row("/v2 infer", "python -m modelreg serve", ours["v2"], mlserver["v2"])
    print(f"\npeak resident memory (every process of the server): FastAPI {fastapi['rss_mb']:.0f} MB, "
          f"MLServer {mlserver['rss_mb']:.0f} MB, modelreg serve {ours['rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
