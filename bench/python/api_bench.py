"""Measurements for bench/python_api.py (run inside its virtualenv).

Everything is measured in this one run, side by side:

* cold load: a fresh interpreter that imports what it needs and loads the
  seed's scikit-learn pipeline -- modelreg's get_latest_model(), the seed's
  joblib directory (joblib.load + json), MLflow's
  mlflow.sklearn.load_model("models:/sentiment@production") on a sqlite
  tracking store; median of RUNS processes;
* warm load (in process, median of many): the same three, and unpickling
  the same bytes alone, so "the registry's own cost" is load - unpickle;
* save_model, and list_versions() at 1,000 versions;
* TextClassifier.predict vs the pipeline's predict on 100,000 snippets.
"""
import csv
import io
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import joblib
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import modelreg

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DATA = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold(code, cwd):
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def joblib_bytes(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def load_data():
    with open(DATA, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def main():
    texts, labels = load_data()
    pipeline = Pipeline([("tfidf", TfidfVectorizer(ngram_range=(1, 2))), ("clf", LogisticRegression(max_iter=1000))])
    pipeline.fit(texts, labels)
    work = pathlib.Path(tempfile.mkdtemp(prefix="modelreg-pybench-"))
    rows = []

    # --- the three stores, each holding the pipeline as its latest/production
    reg_dir = work / "modelreg"
    reg = modelreg.Registry(reg_dir)
    save_mr = timed(lambda: reg.save_model(model=pipeline, bump="patch", metadata={"test_score": 0.8}), 5)
    reg.promote("latest", "production")
    seed_dir = work / "seed"

    def seed_save(i=[0]):
        i[0] += 1
        d = seed_dir / "versions" / f"1.0.{i[0]}"
        d.mkdir(parents=True)
        joblib.dump(pipeline, d / "model.joblib")
        (d / "metadata.json").write_text(json.dumps({"version": f"1.0.{i[0]}", "test_score": 0.8}))
        latest = seed_dir / "latest"
        if latest.exists():
            for p in latest.iterdir():
                p.unlink()
        else:
            latest.mkdir()
        for p in d.iterdir():
            (latest / p.name).write_bytes(p.read_bytes())

    save_seed = timed(seed_save, 5)

    import mlflow
    from mlflow import MlflowClient

    ml_dir = work / "mlflow"
    ml_dir.mkdir()
    uri = f"sqlite:///{ml_dir}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    os.chdir(ml_dir)
    start = time.perf_counter()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name="sentiment")
    save_ml = time.perf_counter() - start
    client = MlflowClient()
    version = client.search_model_versions("name='sentiment'")[0].version
    client.set_registered_model_alias("sentiment", "production", version)
    size_mb = len(joblib_bytes(pipeline)) / 1e6
    rows.append((f"save_model ({size_mb:.1f} MB joblib pipeline)", save_mr, save_seed, save_ml))

    # --- cold loads
    cold_mr = cold(f"import modelreg; modelreg.Registry({str(reg_dir)!r}).get_latest_model()", work)
    cold_seed = cold(
        "import joblib, json; joblib.load('seed/latest/model.joblib'); json.load(open('seed/latest/metadata.json'))",
        work,
    )
    cold_ml = cold(
        f"import mlflow; mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r}); "
        "mlflow.sklearn.load_model('models:/sentiment@production')",
        ml_dir,
    )
    rows.append(("cold load: new process, imports + load", cold_mr, cold_seed, cold_ml))

    # --- warm loads and the registry's own cost
    payload = (reg_dir / "versions" / reg.resolve("latest") / "model.joblib").read_bytes()
    unpickle = timed(lambda: joblib.load(io.BytesIO(payload)), 30)
    warm_mr = timed(reg.get_latest_model, 30)
    warm_seed = timed(
        lambda: (joblib.load(seed_dir / "latest" / "model.joblib"), json.loads((seed_dir / "latest" / "metadata.json").read_text())),
        30,
    )
    warm_ml = timed(lambda: mlflow.sklearn.load_model("models:/sentiment@production"), 10)
    rows.append(("warm load (in process)", warm_mr, warm_seed, warm_ml))
    own = timed(lambda: reg.get_latest_model(serializer="bytes"), 50)
    seed_own = timed(
        lambda: ((seed_dir / "latest" / "model.joblib").read_bytes(), json.loads((seed_dir / "latest" / "metadata.json").read_text())),
        50,
    )
    rows.append(("the store's own cost: bytes + metadata, no unpickling", own, seed_own, warm_ml - unpickle))

    # --- listing 1,000 versions
    small = work / "list"
    lreg = modelreg.Registry(small)
    for i in range(1000):
        lreg.save_model(f"1.{i // 100}.{i % 100}", i, {"test_score": i / 1000}, serializer="pickle")
    seed_list_dir = small / "versions"

    def seed_list():
        out = []
        for d in seed_list_dir.iterdir():
            with open(d / "metadata.json") as f:
                out.append(json.load(f)["version"])
        return out

    client.create_registered_model("many")
    for i in range(1000):
        client.create_model_version("many", source=info.model_uri, run_id=None)
    list_mr = timed(lambda: lreg.list_versions(details=True), 10)
    list_seed = timed(seed_list, 10)
    list_ml = timed(lambda: client.search_model_versions("name='many'", max_results=1000), 5)
    rows.append(("list_versions at 1,000 versions (with scores)", list_mr, list_seed, list_ml))

    # --- prediction
    snippets = (texts * (100_000 // len(texts) + 1))[:100_000]
    clf = modelreg.TextClassifier().fit(texts, labels)
    predict_tc = timed(lambda: clf.predict(snippets), 3)
    predict_sk = timed(lambda: pipeline.predict(snippets), 3)

    print(f"modelreg {modelreg.__version__}, MLflow {mlflow.__version__}, {RUNS} cold runs each; seconds are medians\n")
    print("| operation | modelreg | seed joblib directory | MLflow (sqlite) | MLflow / modelreg |")
    print("|---|---:|---:|---:|---:|")
    for name, a, b, c in rows:
        print(f"| {name} | {a * 1000:.2f} ms | {b * 1000:.2f} ms | {c * 1000:.2f} ms | {c / a:.0f}× |")
    print(f"\nunpickling the pipeline alone (joblib.load from memory): {unpickle * 1000:.2f} ms. The store's own cost is "
          "modelreg's get_latest_model(serializer='bytes') (resolve latest, read metadata and model, check the metadata "
          "digest and the model's BLAKE3, hand the bytes to Python) against reading the same two files with open(); "
          "MLflow's is its warm load minus the unpickling.")
    print(f"predict 100,000 snippets: TextClassifier {predict_tc:.3f} s, scikit-learn pipeline {predict_sk:.3f} s "
          f"({predict_sk / predict_tc:.1f}×; {100_000 / predict_tc:,.0f} vs {100_000 / predict_sk:,.0f} snippets/s)")


if __name__ == "__main__":
    main()
