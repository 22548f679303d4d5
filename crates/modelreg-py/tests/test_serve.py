"""python -m modelreg serve: any saved Python model over model-server's
HTTP contract (/v1, the Open Inference Protocol's /v2 driven by
tritonclient, MLflow's /invocations), with dynamic batching, alias
following, failures kept to their requests, and signature policies."""

import concurrent.futures
import contextlib
import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import numpy
import pytest
import tritonclient.http as triton
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import modelreg
from conftest import ROOT, read_tsv
from servemodels import BrokenOnLoad, Echo, Evil, JsonCodec, Moody

HERE = pathlib.Path(__file__).resolve().parent
KEYS = ROOT / "crates" / "model-sign" / "tests" / "keys"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, proc, port):
        self.proc, self.port = proc, port

    def request(self, method, path, body=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = json.dumps(body) if isinstance(body, (dict, list)) else body
            conn.request(method, path, body=data, headers={"Content-Type": content_type} if body else {})
            response = conn.getresponse()
            text = response.read().decode()
            return response.status, (json.loads(text) if text.startswith(("{", "[")) else text)
        finally:
            conn.close()

    def metric(self, name):
        _, text = self.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not in /metrics:\n{text}")


@contextlib.contextmanager
def serve(root, *targets, extra=(), env=None):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelreg", "serve", *targets, "--registry", str(root),
         "--listen", f"127.0.0.1:{port}", "--poll", "0.05", *extra],
        env={**os.environ, "PYTHONPATH": str(HERE), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = Server(proc, port)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited ({proc.returncode}):\n{proc.stderr.read()}")
        try:
            if server.request("GET", "/readyz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.05)
    try:
        yield server
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def pipeline(texts, labels):
    return make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000)).fit(texts, labels)


@pytest.fixture(scope="module")
def rt():
    return read_tsv("rotten_tomatoes_snippets.tsv", limit=2000)


def texts_request(texts, name="text"):
    return {"inputs": [{"name": name, "shape": [len(texts)], "datatype": "BYTES", "data": texts}]}


def test_a_scikit_learn_pipeline_answers_v1_triton_and_mlflow_as_scikit_learn_does(tmp_path, rt):
    texts, labels = rt
    model = pipeline(texts, labels)
    reg = modelreg.Registry(tmp_path / "registry", model="spam")
    reg.save_model("1.0.0", model, {"test_score": 0.8})
    reg.promote("1.0.0", "production")
    probe = ["a gorgeous, moving film", "dull, flat and far too long", texts[0]]
    want = list(model.predict(probe))
    want_p = model.predict_proba(probe)
    with serve(tmp_path / "registry", "models:/spam@production") as server:
        status, body = server.request("POST", "/v1/predict", {"texts": probe, "probabilities": True})
        assert status == 200, body
        assert [p["label"] for p in body["predictions"]] == want
        assert body["model"] == {"name": "spam", "version": "1.0.0", "alias": "production"}
        for p, row in zip(body["predictions"], want_p):
            assert [p["probabilities"][c] for c in model.classes_] == pytest.approx(list(row))

        client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
        assert client.is_server_ready() and client.is_model_ready("spam")
        meta = client.get_model_metadata("spam")
        assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        given = triton.InferInput("text", [len(probe)], "BYTES")
        given.set_data_from_numpy(numpy.array([t.encode() for t in probe], dtype=object))
        result = client.infer("spam", [given], outputs=[triton.InferRequestedOutput("label"),
                                                         triton.InferRequestedOutput("probabilities")])
        assert [b.decode() for b in result.as_numpy("label")] == want
        assert result.as_numpy("probabilities") == pytest.approx(want_p)

        status, body = server.request("POST", "/invocations", {"dataframe_split": {"columns": ["text"], "data": [[t] for t in probe]}})
        assert status == 200 and body["predictions"] == want, body
        csv = "text\n" + "\n".join(f'"{t}"' for t in probe) + "\n"
        status, body = server.request("POST", "/invocations", csv, content_type="text/csv")
        assert status == 200 and body["predictions"] == want, body
        assert server.request("GET", "/ping")[0] == 200
        status, body = server.request("POST", "/invocations", {"instances": [1, 2]})
        assert status == 400 and "not a text" in body["message"], body


def test_the_projects_text_classifier_is_served_by_the_rust_kind(tmp_path):
    texts, labels = read_tsv("uci_sentiment_sentences.tsv", limit=600)
    clf = modelreg.TextClassifier().fit(texts, labels)
    reg = modelreg.Registry(tmp_path / "registry")
    reg.save_model("1.0.0", clf)
    with serve(tmp_path / "registry", "models:/default/1.0.0") as server:
        status, body = server.request("POST", "/v1/predict", {"texts": texts[:5]})
        assert status == 200, body
        assert [p["label"] for p in body["predictions"]] == list(clf.predict(texts[:5]))
        status, meta = server.request("GET", "/v2/models/default")
        assert meta["platform"].startswith("textclf"), meta
        assert server.metric("modelserver_batches_total") == 0, "no Python, no batching"


def test_numeric_models_take_rows_and_refuse_the_wrong_width(tmp_path):
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    reg = modelreg.Registry(tmp_path / "registry", model="iris")
    reg.save_model("1.0.0", model)
    with serve(tmp_path / "registry", "models:/iris/1.0.0") as server:
        rows = x[[0, 70, 140]]
        body = {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]}
        status, answer = server.request("POST", "/v2/models/iris/infer", body)
        assert status == 200, answer
        assert answer["outputs"][0]["data"] == [str(c) for c in model.predict(rows)]
        assert answer["outputs"][1]["data"] == pytest.approx(model.predict_proba(rows).ravel().tolist())
        status, answer = server.request("POST", "/invocations", {"inputs": rows.tolist()})
        assert status == 200 and answer["predictions"] == [str(c) for c in model.predict(rows)], answer
        body["inputs"][0].update(shape=[3, 3], data=rows[:, :3].ravel().tolist())
        status, answer = server.request("POST", "/v2/models/iris/infer", body)
        assert status == 400 and "fitted on 4" in answer["error"], answer


def test_concurrent_requests_are_batched_and_each_gets_its_own_answers_in_order(tmp_path):
    log = tmp_path / "batches"
    reg = modelreg.Registry(tmp_path / "registry")
    reg.save_model("1.0.0", Echo(log=str(log)), serializer="pickle")
    with serve(tmp_path / "registry", "models:/default/1.0.0", extra=["--max-batch-wait", "20ms", "--batch-gap", "20ms", "--max-batch-size", "32"]) as server:

        def client(c):
            for r in range(10):
                texts = [f"c{c}r{r}t{i}" for i in range(1 + (c + r) % 3)]
                status, body = server.request("POST", "/v2/models/default/infer", texts_request(texts))
                assert status == 200, body
                assert body["outputs"][0]["data"] == [t.upper() for t in texts]
            return True

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            assert all(pool.map(client, range(16)))
        sizes = [int(n) for n in log.read_text().split()]
        total = sum(1 + (c + r) % 3 for c in range(16) for r in range(10))
        assert sum(sizes) == total
        assert len(sizes) < 160 / 2, f"160 requests from 16 clients made {len(sizes)} model calls"
        assert max(sizes) <= 32
        assert server.metric("modelserver_batches_total") == len(sizes)
        assert server.metric("modelserver_batch_max_size") == 32
        assert server.metric("modelserver_batch_max_wait_seconds") == pytest.approx(0.02)
        status, body = server.request("POST", "/v1/predict", {"texts": ["a"]})
        assert status == 422 and "classes_" in body["error"]["message"], body


def test_a_model_that_raises_fails_only_the_requests_it_raised_on(tmp_path):
    reg = modelreg.Registry(tmp_path / "registry")
    reg.save_model("1.0.0", Moody(), serializer="pickle")
    with serve(tmp_path / "registry", "models:/default/1.0.0", extra=["--max-batch-wait", "30ms", "--batch-gap", "30ms"]) as server:
        texts = ["good", "bad", "fine", "boom", "good day"] * 4

        def one(text):
            return text, server.request("POST", "/v1/predict", {"texts": [text]})

        with concurrent.futures.ThreadPoolExecutor(len(texts)) as pool:
            answers = list(pool.map(one, texts))
        for text, (status, body) in answers:
            if text == "bad":
                assert status == 422 and "ValueError" in body["error"]["message"], body
            elif text == "boom":
                assert status == 500 and "RuntimeError: the model fell over" in body["error"]["message"], body
            else:
                assert status == 200, body
                assert body["predictions"][0]["label"] == ("pos" if "good" in text else "neg")
        assert server.metric("modelserver_batches_split_after_failure_total") >= 1
        status, body = server.request("POST", "/v2/models/default/infer", texts_request(["boom"]))
        assert status == 500 and "fell over" in body["error"], body
        assert server.request("GET", "/readyz")[0] == 200, "the server stays up"


def test_twenty_alias_flips_under_load_fail_no_request(tmp_path, rt):
    texts, labels = rt
    root = tmp_path / "registry"
    reg = modelreg.Registry(root)
    reg.save_model("1.0.0", pipeline(texts[:1000], labels[:1000]))
    reg.save_model("1.1.0", pipeline(texts, labels))
    reg.promote("1.0.0", "production")
    stop = threading.Event()
    seen, failures = set(), []

    with serve(root, "models:/default@production") as server:

        def load():
            while not stop.is_set():
                status, body = server.request("POST", "/v1/predict", {"texts": ["a fine film"]})
                if status != 200:
                    failures.append((status, body))
                else:
                    seen.add(body["model"]["version"])

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        for flip in range(20):
            reg.promote("1.1.0" if flip % 2 == 0 else "1.0.0", "production")
            time.sleep(0.25)
        stop.set()
        for t in threads:
            t.join()
        assert failures == []
        assert seen == {"1.0.0", "1.1.0"}
        assert server.metric('modelserver_reloads_total{model="default",alias="production"}') >= 10


def test_a_version_that_fails_to_load_is_never_served(tmp_path):
    root = tmp_path / "registry"
    reg = modelreg.Registry(root)
    reg.save_model("1.0.0", Echo(), serializer="pickle")
    reg.save_model("1.1.0", BrokenOnLoad(), serializer="pickle")
    reg.promote("1.0.0", "production")
    with serve(root, "models:/default@production", extra=["--retry-after", "10"]) as server:
        reg.promote("1.1.0", "production")
        deadline = time.monotonic() + 20
        while server.request("GET", "/readyz")[0] == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, body = server.request("GET", "/readyz")
        assert "1.1.0" in str(body) and "failed to load" in str(body), (status, body)
        status, body = server.request("POST", "/v2/models/default/infer", texts_request(["x"]))
        assert status == 200 and body["model_version"] == "1.0.0", body
        assert server.metric('modelserver_failed_reloads_total{model="default",alias="production"}') >= 1
    done = subprocess.run(
        [sys.executable, "-m", "modelreg", "serve", "models:/default/1.1.0", "--registry", str(root),
         "--listen", f"127.0.0.1:{free_port()}"],
        env={**os.environ, "PYTHONPATH": str(HERE)}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "1.1.0" in done.stderr and "mylib" in done.stderr, done.stderr


def test_an_unsigned_pickle_is_refused_under_a_signature_policy_before_it_is_unpickled(tmp_path):
    root = tmp_path / "registry"
    marker = tmp_path / "ran"
    reg = modelreg.Registry(root)
    reg.save_model("1.0.0", Echo(), serializer="pickle", sign_key=KEYS / "p256.pem")
    reg.save_model("1.1.0", Evil(marker), serializer="pickle")
    reg.promote("1.0.0", "production")
    trusted = ["--trusted-key", str(KEYS / "p256.pub.pem")]
    with serve(root, "models:/default@production", extra=trusted) as server:
        reg.promote("1.1.0", "production")
        time.sleep(1)
        status, body = server.request("POST", "/v2/models/default/infer", texts_request(["x"]))
        assert status == 200 and body["model_version"] == "1.0.0", body
        assert server.metric('modelserver_failed_reloads_total{model="default",alias="production"}') >= 1
    done = subprocess.run(
        [sys.executable, "-m", "modelreg", "serve", "models:/default/1.1.0", "--registry", str(root),
         "--listen", f"127.0.0.1:{free_port()}", *trusted],
        env={**os.environ, "PYTHONPATH": str(HERE)}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0 and "not signed" in done.stderr, done.stderr
    assert not marker.exists(), "the unsigned pickle ran"


def test_a_custom_serializer_is_served_when_given(tmp_path):
    root = tmp_path / "registry"
    saved = modelreg.Registry(root).save_model("1.0.0", Echo(suffix="?"), serializer=JsonCodec)
    assert saved["serializer"] == "custom:json-echo"
    with serve(root, "models:/default/1.0.0", extra=["--serializer", "servemodels:JsonCodec"]) as server:
        status, body = server.request("POST", "/v2/models/default/infer", texts_request(["why"]))
        assert status == 200 and body["outputs"][0]["data"] == ["WHY?"], body
    run = lambda *a: subprocess.run(
        [sys.executable, "-m", "modelreg", "serve", "models:/default/1.0.0", "--registry", str(root),
         "--listen", f"127.0.0.1:{free_port()}", *a],
        env={**os.environ, "PYTHONPATH": str(HERE)}, capture_output=True, text=True, timeout=60,
    )
    done = run()
    assert done.returncode != 0 and "--serializer MODULE:OBJECT" in done.stderr, done.stderr
    done = run("--serializer", "servemodels:NoSuchCodec")
    assert done.returncode != 0 and "NoSuchCodec" in done.stderr, done.stderr


def test_the_command_line_explains_itself(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "modelreg", *a], capture_output=True, text=True, timeout=60)
    done = run("serve", "--help")
    assert done.returncode == 0 and "--max-batch-size" in done.stdout and "--trusted-key" in done.stdout
    done = run("train")
    assert done.returncode == 2 and "unknown command 'train'" in done.stderr
    done = run("serve", "models:/x@production", "--registry", str(tmp_path / "nothing"))
    assert done.returncode != 0 and "nothing" in done.stderr, done.stderr
