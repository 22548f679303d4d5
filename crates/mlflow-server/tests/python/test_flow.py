"""The MLflow flows with the real `mlflow` client against `registry
serve`, and the registry they leave checked with the CLI."""

import hashlib
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from serving import registry, registry_json, run_flow, serve


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_flow_lands_as_registry_versions(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    with serve(reg) as url:
        seen = run_flow(url)
        assert seen["production_predictions"] == [1, 0, 1, 0]
        assert seen["versions"] == [1, 2]
        # What the client downloads for models:/spam@production ...
        mlflow.set_tracking_uri(url)
        downloaded = Path(mlflow.artifacts.download_artifacts("models:/spam@production", dst_path=str(tmp_path / "dl")))
    # ... is the registry's version 1.0.0 byte for byte, as `registry get` writes it.
    models = {m["model"]: m for m in registry_json(reg, "models")}
    assert models["spam"]["versions"] == 2 and models["spam"]["production"] == "1.0.0"
    assert models["spam-upper"]["versions"] == 1
    listed = registry_json(reg, "--model", "spam", "list")
    assert [v["version"] for v in listed] == ["1.0.0", "2.0.0"]
    assert listed[0]["model_type"] == "mlflow.sklearn"
    history = registry_json(reg, "--model", "spam", "history", "production")
    assert [h["version"] for h in history] == ["1.0.0", "2.0.0", "1.0.0"]
    verify = registry_json(reg, "verify")
    assert all(not m["problems"] for m in verify["models"]), verify
    registry(reg, "get", "models:/spam@production", "--out", str(tmp_path / "got"))
    # (`registry get` marks what it wrote, mlflow adds what it downloaded.)
    got = sorted(
        p.relative_to(tmp_path / "got")
        for p in (tmp_path / "got").rglob("*")
        if p.is_file() and p.name != ".modelreg-get.json"
    )
    dl = sorted(
        p.relative_to(downloaded) for p in downloaded.rglob("*") if p.is_file() and p.name != "registered_model_meta"
    )
    assert got == dl and "MLmodel" in {str(p) for p in got}
    for rel in got:
        assert sha256(tmp_path / "got" / rel) == sha256(downloaded / rel), rel
    shown = registry_json(reg, "show", "models:/spam/1.0.0")
    digests = {f["path"]: f["sha256"] for f in shown["files"]}
    for rel in got:
        assert digests[str(rel)] == sha256(downloaded / rel), rel
    # The run's params, metrics, tags and the run itself are in the metadata.
    info = shown
    assert info["hyperparameters"]["C"] == "1.0"
    assert info["metrics"]["accuracy"] == pytest.approx(0.91)
    assert info["lineage"]["run"]["tags"]["team"] == "fraud"
    assert "team" not in info["tags"], "the run's tags are the run's, not the version's"
    assert info["lineage"]["run"]["run_id"] == seen["run1"]
    assert info["lineage"]["run"]["experiment_name"] == "spam-detection"


def test_numbers_are_stable_and_both_forms_load(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    with serve(reg) as url:
        run_flow(url)
        mlflow.set_tracking_uri(url)
        client = MlflowClient(url, url)
        assert client.get_model_version("spam", "1.0.0").version == "1"
        # A version saved by the CLI gets the next number, and keeps it.
        src = tmp_path / "m.bin"
        src.write_bytes(b"not a real model")
        registry(reg, "--model", "spam", "add", str(src), "--version", "1.5.0", "--type", "bytes")
        assert client.get_model_version("spam", "3").source.endswith("/1.5.0")
        before = {v.version: v.source for v in client.search_model_versions("name='spam'")}
        again = {v.version: v.source for v in client.search_model_versions("name='spam'")}
        assert before == again and set(before) == {"1", "2", "3"}
        # models:/spam/1.0.0 (a semver, which the client takes for a stage) loads too.
        model = mlflow.sklearn.load_model("models:/spam/1.0.0")
        assert list(model.predict(["free money now"])) == [1]


def test_the_flow_beside_gc_verify_and_a_reader(tmp_path: Path) -> None:
    """gc, verify and `registry list` in a loop while the client logs,
    registers, moves aliases and loads: the flow passes, and so does verify."""
    import threading

    reg = tmp_path / "reg"
    stop = threading.Event()
    failures: list[str] = []
    rounds = [0]

    def beside() -> None:
        while not stop.is_set():
            for args in (("gc", "--older-than", "0s"), ("verify",), ("--model", "spam", "list")):
                out = registry(reg, *args, check=False)
                # Before the first version there is no model to list.
                if out.returncode not in (0, 3):
                    failures.append(f"{args}: {out.returncode} {out.stderr}")
            rounds[0] += 1

    with serve(reg) as url:
        thread = threading.Thread(target=beside)
        thread.start()
        try:
            seen = run_flow(url)
        finally:
            stop.set()
            thread.join()
    assert not failures, failures
    assert rounds[0] >= 2, rounds
    assert seen["versions"] == [1, 2]
    verify = registry_json(reg, "verify")
    assert all(not m["problems"] for m in verify["models"]), verify
