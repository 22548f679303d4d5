"""One server's numbers for bench/mlflow_api.py, measured with the real
mlflow client against MLFLOW_TRACKING_URI: prints one JSON object."""

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlparse

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

URL = os.environ["MLFLOW_TRACKING_URI"]
FLOW = Path(__file__).resolve().parents[2] / "crates" / "mlflow-server" / "tests" / "python" / "flow.py"
VERSIONS = int(os.environ.get("BENCH_VERSIONS", "1000"))
CALLS = int(os.environ.get("BENCH_CALLS", "1000"))
TEXTS = ["free money now", "meeting at noon", "win a prize", "lunch tomorrow?"] * 5
LABELS = [1, 0, 1, 0] * 5


def timed(f, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    seen = {}
    t = time.perf_counter()
    subprocess.run([sys.executable, str(FLOW)], check=True, capture_output=True, env={**os.environ, "FLOW_MODEL": "flow"})
    seen["flow_s"] = time.perf_counter() - t

    mlflow.set_tracking_uri(URL)
    mlflow.set_experiment("bench")
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(TEXTS, LABELS)
    infos = []

    def log():
        with mlflow.start_run():
            infos.append(mlflow.sklearn.log_model(model, name="model", registered_model_name="bench"))

    seen["log_model_s"] = statistics.median(timed(log, 5))
    client = MlflowClient(URL, URL)
    client.set_registered_model_alias("bench", "production", "1")
    seen["load_model_s"] = statistics.median(
        timed(lambda: mlflow.pyfunc.load_model("models:/bench@production"), 5)
    )

    # 1,000 versions of one model, then a search that returns them all.
    client.create_registered_model("bulk")
    info = infos[0]
    t = time.perf_counter()
    for _ in range(VERSIONS):
        client.create_model_version("bulk", info.model_uri, run_id=info.run_id, model_id=info.model_id)
    seen["create_version_ms"] = (time.perf_counter() - t) / VERSIONS * 1000
    found = []
    seen["search_1000_s"] = statistics.median(
        timed(lambda: found.append(len(client.search_model_versions("name='bulk'"))), 5)
    )
    assert found[-1] == VERSIONS, found

    client.set_registered_model_alias("bulk", "production", str(VERSIONS // 2))
    lat = timed(lambda: client.get_model_version_by_alias("bulk", "production"), CALLS)
    seen["alias_p50_ms"] = pct(lat, 50) * 1000
    seen["alias_p99_ms"] = pct(lat, 99) * 1000
    # The same call on one kept-alive connection, without the client's
    # own overhead: closer to the server's time.
    u = urlparse(URL)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    path = "/api/2.0/mlflow/registered-models/alias?" + urlencode({"name": "bulk", "alias": "production"})

    def raw():
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, body

    lat = timed(raw, CALLS)
    seen["alias_raw_p50_ms"] = pct(lat, 50) * 1000
    seen["alias_raw_p99_ms"] = pct(lat, 99) * 1000
    path = "/api/2.0/mlflow/model-versions/search?" + urlencode({"filter": "name='bulk'", "max_results": 10000})
    seen["search_1000_raw_s"] = statistics.median(timed(raw, 5))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
