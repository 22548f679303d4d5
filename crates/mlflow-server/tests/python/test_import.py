"""`registry import-mlflow` from a real `mlflow server` on sqlite: the
versions, aliases, params and metrics, the files identical to MLflow's own
download; idempotent, incremental, and resumable after SIGKILL."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from serving import BIN, free_port, registry, registry_json, run_flow, serve, wait_until_up


@contextmanager
def mlflow_server(root: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, "mlflow server", 120)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def import_mlflow(reg: Path, url: str, *args: str) -> dict:
    return registry_json(reg, "import-mlflow", url, *args)


def tree(root: Path) -> dict[str, str]:
    skip = {".modelreg-get.json", "registered_model_meta"}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.name not in skip
    }


def verify_clean(reg: Path) -> None:
    report = registry_json(reg, "verify")
    assert all(not m["problems"] for m in report["models"]), report


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    with mlflow_server(root) as url:
        run_flow(url)
        yield url


def test_import_copies_versions_aliases_runs_and_files(source: str, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    report = import_mlflow(reg, source)
    assert sorted((m, n) for m, n, _ in report["added"]) == [("spam", 1), ("spam", 2), ("spam-upper", 1)]
    assert report["aliases_moved"] == [["spam", "production", "1.0.0"]]
    history = registry_json(reg, "--model", "spam", "history", "production")
    assert [(h["action"], h["version"]) for h in history] == [("import", "1.0.0")]
    shown = registry_json(reg, "show", "models:/spam/1.0.0")
    assert shown["hyperparameters"] == {"C": "1.0", "vectorizer": "tfidf", "solver": "lbfgs"}
    assert shown["metrics"]["accuracy"] == pytest.approx(0.91)
    assert shown["lineage"]["run"]["tags"]["team"] == "fraud" and shown["tags"]["validated"] == "yes"
    assert shown["description"] == "first try"
    assert shown["lineage"]["run"]["tracking_uri"] == source
    assert shown["model_type"] == "mlflow.sklearn"
    mlflow.set_tracking_uri(source)
    for model, number in (("spam", 1), ("spam", 2), ("spam-upper", 1)):
        theirs = Path(mlflow.artifacts.download_artifacts(f"models:/{model}/{number}", dst_path=str(tmp_path / f"{model}{number}")))
        ours = tmp_path / f"ours-{model}{number}"
        registry(reg, "get", f"models:/{model}/{number}.0.0", "--out", str(ours))
        assert tree(ours) == tree(theirs) and tree(ours), (model, number)
    verify_clean(reg)
    # The same numbers through `registry serve`.
    with serve(reg) as url:
        client = MlflowClient(url, url)
        assert client.get_model_version_by_alias("spam", "production").version == "1"
        assert client.get_model_version("spam", "2").description == ""


def test_a_second_run_adds_nothing_and_a_later_one_only_what_is_new(source: str, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    import_mlflow(reg, source)
    again = import_mlflow(reg, source)
    assert again["added"] == [] and again["aliases_moved"] == [] and again["present"] == 3
    client = MlflowClient(source, source)
    mlflow.set_tracking_uri(source)
    v2 = client.get_model_version("spam", "2")
    v3 = mlflow.register_model(v2.source, "spam")
    client.set_registered_model_alias("spam", "production", v3.version)
    later = import_mlflow(reg, source, "--model", "spam")
    assert later["added"] == [["spam", int(v3.version), f"{v3.version}.0.0"]]
    assert later["aliases_moved"] == [["spam", "production", f"{v3.version}.0.0"]]
    history = registry_json(reg, "--model", "spam", "history", "production")
    assert [h["version"] for h in history] == ["1.0.0", f"{v3.version}.0.0"]
    client.set_registered_model_alias("spam", "production", "1")


def test_an_import_killed_at_any_instant_leaves_a_registry_that_verifies(source: str, tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    command = [str(BIN / "registry"), "--registry", str(reg), "import-mlflow", source]
    for delay in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if reg.exists():
            verify_clean(reg)
    final = import_mlflow(reg, source)
    listed = {m["model"]: m["versions"] for m in registry_json(reg, "models")}
    assert listed["spam"] >= 2 and listed["spam-upper"] == 1, (listed, final)
    assert import_mlflow(reg, source)["added"] == []
    verify_clean(reg)


def test_the_import_sends_the_token_as_the_client_does(tmp_path: Path, monkeypatch) -> None:
    token = tmp_path / "token"
    token.write_text("tok-123\n")
    with serve(tmp_path / "a", "--token-file", str(token)) as url:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
        run_flow(url)
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
        refused = registry(tmp_path / "b", "import-mlflow", url, check=False)
        assert refused.returncode == 2, refused
        assert "MLFLOW_TRACKING_TOKEN" in refused.stderr, refused.stderr
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
        report = import_mlflow(tmp_path / "b", url)
    assert sorted((m, n) for m, n, _ in report["added"]) == [("spam", 1), ("spam", 2), ("spam-upper", 1)]
    verify_clean(tmp_path / "b")


def test_the_import_sends_basic_credentials_as_the_client_does(tmp_path: Path, monkeypatch) -> None:
    """MLFLOW_TRACKING_USERNAME/PASSWORD go as HTTP basic auth: a stand-in
    server that answers only with the right header."""
    import base64
    import http.server
    import threading

    wanted = "Basic " + base64.b64encode(b"ann:pw 1").decode()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers.get("Authorization", ""))
            ok = self.headers.get("Authorization") == wanted
            body = b'{"registered_models": []}' if ok else b'{"error_code": "UNAUTHENTICATED", "message": "who?"}'
            self.send_response(200 if ok else 401)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        refused = registry(tmp_path / "reg", "import-mlflow", url, check=False)
        assert refused.returncode == 2 and "MLFLOW_TRACKING_USERNAME" in refused.stderr, refused
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw 1")
        report = import_mlflow(tmp_path / "reg", url)
        assert report["added"] == [] and seen[-1] == wanted
    finally:
        server.shutdown()
