"""examples/python: the seed's train.py and predict.py on modelreg, and the
FastAPI service that follows production."""

import importlib.util
import subprocess
import sys
import time

import pytest

import modelreg
from conftest import FIXTURES, ROOT

EXAMPLES = ROOT / "examples" / "python"


def run(script, *args):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Constant:
    """A model that answers one label (picklable: defined at module level)."""

    def __init__(self, label):
        self.label = label

    def predict(self, texts):
        return [self.label for _ in texts]


def test_train_then_predict(tmp_path):
    root = tmp_path / "registry"
    data = FIXTURES / "uci_sentiment_sentences.tsv"
    out = run("train.py", "--data", data, "--registry", root, "--model", "sk")
    assert out.startswith("saved sk 1.0.0: test 0.")
    out = run("train.py", "--data", data, "--registry", root, "--model", "sk")
    assert out.startswith("saved sk 1.1.0")
    metadata = modelreg.Registry(root, model="sk").metadata("latest")
    assert metadata["lineage"]["data"]["name"] == data.name and metadata["cv_score"] > 0.6
    predicted = run("predict.py", "--registry", root, "--model", "sk", "A wonderful film", "Awful, just awful")
    lines = predicted.splitlines()
    assert lines[0].startswith("positive\t") and lines[1].startswith("negative\t")
    assert "version 1.1.0" in lines[2]


def test_service_switches_to_a_newly_promoted_model(tmp_path, monkeypatch):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    root = tmp_path / "registry"
    reg = modelreg.Registry(root, model="svc")
    reg.save_model("1.0.0", Constant("old"), serializer="pickle")
    reg.save_model("2.0.0", Constant("new"), serializer="pickle")
    reg.promote("1.0.0", "production")
    monkeypatch.setenv("MODELREG_DIR", str(root))
    monkeypatch.setenv("MODELREG_MODEL", "svc")
    monkeypatch.setenv("MODELREG_POLL", "0.05")
    spec = importlib.util.spec_from_file_location("service", EXAMPLES / "service.py")
    service = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(service)
    try:
        client = TestClient(service.app)
        assert client.post("/predict", json={"texts": ["a", "b"]}).json() == {"version": "1.0.0", "labels": ["old", "old"]}
        reg.promote("2.0.0", "production")
        deadline = time.monotonic() + 10
        while client.get("/health").json()["version"] != "2.0.0" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.post("/predict", json={"texts": ["a"]}).json() == {"version": "2.0.0", "labels": ["new"]}
    finally:
        service.production.close()
