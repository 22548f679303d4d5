"""Access and hostile requests: the token, --public-reads, --read-only,
unknown endpoints, unknown fields, wrong types, huge bodies and path
traversal in artifact paths. Each gets a 4xx in MLflow's error shape, and
nothing is written outside the staging area."""

from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from serving import serve

API = "/api/2.0/mlflow"


def error(response: requests.Response, status: int, code: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error_code"] == code, body
    assert body["message"], body
    return body["message"]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_a_token_is_required_and_public_reads_open_reads_only(tmp_path: Path, monkeypatch) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    with serve(tmp_path / "reg", "--token-file", str(token)) as url:
        message = error(requests.get(f"{url}{API}/registered-models/search"), 401, "UNAUTHENTICATED")
        assert "MLFLOW_TRACKING_TOKEN" in message
        wrong = {"Authorization": "Bearer nope"}
        error(requests.get(f"{url}{API}/registered-models/search", headers=wrong), 401, "UNAUTHENTICATED")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret-token")
        client = MlflowClient(url, url)
        client.create_registered_model("tok")
        assert [m.name for m in client.search_registered_models()] == ["tok"]
        monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
        with pytest.raises(MlflowException) as e:
            MlflowClient(url, url).get_registered_model("tok")
        assert e.value.error_code == "UNAUTHENTICATED"
    with serve(tmp_path / "reg", "--token-file", str(token), "--public-reads") as url:
        client = MlflowClient(url, url)
        assert client.get_registered_model("tok").name == "tok"
        with pytest.raises(MlflowException) as e:
            client.create_registered_model("other")
        assert e.value.error_code == "UNAUTHENTICATED"


def test_read_only_refuses_every_write(tmp_path: Path) -> None:
    from serving import registry

    with serve(tmp_path / "reg") as url:
        MlflowClient(url, url).create_registered_model("ro")
    # A version the API has never numbered: a read-only server shows the
    # number it will get, and records nothing.
    src = tmp_path / "m.bin"
    src.write_bytes(b"bytes")
    registry(tmp_path / "reg", "--model", "ro", "add", str(src), "--version", "0.3.0", "--type", "bytes")
    before = files_under(tmp_path / "reg")
    with serve(tmp_path / "reg", "--read-only") as url:
        client = MlflowClient(url, url)
        assert client.get_registered_model("ro").name == "ro"
        assert client.get_model_version("ro", "1").source.endswith("/0.3.0")
        for write in (
            lambda: client.create_registered_model("x"),
            lambda: client.create_experiment("x"),
            lambda: client.update_registered_model("ro", description="d"),
        ):
            with pytest.raises(MlflowException) as e:
                write()
            assert e.value.error_code == "PERMISSION_DENIED"
        error(
            requests.put(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/{'a' * 32}/artifacts/f", data=b"x"),
            403,
            "PERMISSION_DENIED",
        )
    assert files_under(tmp_path / "reg") == before


def test_an_upload_over_the_cap_is_refused_and_not_staged(tmp_path: Path) -> None:
    with serve(tmp_path / "reg", "--max-artifact-bytes", "1KB") as url:
        mlflow.set_tracking_uri(url)
        with mlflow.start_run() as run:
            pass
        root = f"{url}/api/2.0/mlflow-artifacts/artifacts/0/{run.info.run_id}/artifacts"
        error(requests.put(f"{root}/big.bin", data=b"x" * 2048), 413, "INVALID_PARAMETER_VALUE")
        assert requests.put(f"{root}/small.bin", data=b"x" * 1000).status_code == 200
        listing = requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts", params={"path": f"0/{run.info.run_id}/artifacts"})
        assert listing.json()["files"] == [{"path": "small.bin", "is_dir": False, "file_size": 1000}]
    assert not any("big.bin" in f for f in files_under(tmp_path / "reg"))


def test_bad_requests_get_a_4xx_in_mlflows_shape(tmp_path: Path) -> None:
    with serve(tmp_path / "reg") as url:
        message = error(requests.get(f"{url}{API}/no-such-endpoint"), 404, "ENDPOINT_NOT_FOUND")
        assert "/api/2.0/mlflow/no-such-endpoint" in message
        error(requests.get(f"{url}/api/2.0/preview/mlflow/anything"), 404, "ENDPOINT_NOT_FOUND")
        post = lambda path, body: requests.post(f"{url}{API}/{path}", json=body)  # noqa: E731
        message = error(post("registered-models/create", {"name": "a", "colour": "red"}), 400, "INVALID_PARAMETER_VALUE")
        assert "colour" in message
        message = error(post("registered-models/create", {"name": 3}), 400, "INVALID_PARAMETER_VALUE")
        assert "string" in message
        error(post("registered-models/create", {}), 400, "INVALID_PARAMETER_VALUE")
        error(post("registered-models/create", {"name": "../x"}), 400, "INVALID_PARAMETER_VALUE")
        error(post("runs/create", {"experiment_id": "0", "start_time": "soon"}), 400, "INVALID_PARAMETER_VALUE")
        error(post("runs/log-batch", {"run_id": "../../etc"}), 404, "RESOURCE_DOES_NOT_EXIST")
        error(
            requests.post(f"{url}{API}/experiments/create", data=b"{not json", headers={"content-type": "application/json"}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        error(requests.post(f"{url}{API}/experiments/create", data=b"x" * (5 << 20)), 413, "INVALID_PARAMETER_VALUE")
        error(requests.get(f"{url}{API}/model-versions/search", params={"filter": "name = spam"}), 400, "INVALID_PARAMETER_VALUE")
        error(requests.get(f"{url}{API}/model-versions/search", params={"page_token": "garbage"}), 400, "INVALID_PARAMETER_VALUE")
        error(requests.get(f"{url}{API}/registered-models/get", params={"name": "nope"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_artifact_paths_cannot_leave_the_staging_area(tmp_path: Path) -> None:
    reg = tmp_path / "reg"
    with serve(reg) as url:
        mlflow.set_tracking_uri(url)
        mlflow.set_experiment("e")
        with mlflow.start_run() as run:
            pass
        root = f"{url}/api/2.0/mlflow-artifacts/artifacts"
        base = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
        ok = requests.put(f"{root}/{base}/model/MLmodel", data=b"flavors: {}\n")
        assert ok.status_code == 200, ok.text
        before = files_under(tmp_path)
        for path in (
            f"{base}/../../../../outside",
            f"{base}/%2e%2e/%2e%2e/%2e%2e/outside",
            f"{base}/..%2F..%2Foutside",
            f"{base}//etc/outside",
            f"{base}/.hidden",
            "/etc/outside",
            f"{run.info.experiment_id}/{'f' * 32}/artifacts/never-created-run",
            "registry/spam/1.0.0/MLmodel",
        ):
            response = requests.put(f"{root}/{path}", data=b"x")
            assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
            assert response.json()["error_code"] in (
                "INVALID_PARAMETER_VALUE",
                "RESOURCE_DOES_NOT_EXIST",
                "ENDPOINT_NOT_FOUND",
            ), (path, response.text)
            get = requests.get(f"{root}/{path}")
            assert 400 <= get.status_code < 500, (path, get.status_code)
        assert files_under(tmp_path) == before
        # What was staged reads back.
        assert requests.get(f"{root}/{base}/model/MLmodel").content == b"flavors: {}\n"
        listing = requests.get(root, params={"path": f"{base}/model"}).json()
        assert listing["files"] == [{"path": "MLmodel", "is_dir": False, "file_size": 12}]


def test_trusted_keys_apply_to_loads_through_the_api(tmp_path: Path) -> None:
    import subprocess

    from serving import registry, run_flow

    reg = tmp_path / "reg"
    with serve(reg) as url:
        run_flow(url)
    key, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)], check=True, capture_output=True)
    with serve(reg, "--trusted-key", str(pub)) as url:
        mlflow.set_tracking_uri(url)
        with pytest.raises(MlflowException) as e:
            mlflow.pyfunc.load_model("models:/spam@production")
        assert e.value.error_code == "PERMISSION_DENIED", e.value
        assert "unsigned" in str(e.value) or "sign" in str(e.value)
        # The files themselves are refused too, not only the URI.
        error(
            requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/registry/spam/1.0.0/MLmodel"),
            403,
            "PERMISSION_DENIED",
        )
        registry(reg, "--model", "spam", "sign", "1.0.0", "--key", str(key))
        model = mlflow.pyfunc.load_model("models:/spam@production")
        assert list(model.predict(["free money now"])) == [1]
