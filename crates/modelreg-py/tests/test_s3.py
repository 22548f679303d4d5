"""The package on an S3 registry (the local moto server of
.ci/s3-test-server): save, load, follow, the local cache, and serving."""

import os
import subprocess
import sys
import uuid

import pytest

import modelreg
from test_serve import HERE, free_port, serve, texts_request
from servemodels import Echo

ENDPOINT = os.environ.get("MODELREG_S3_TEST_ENDPOINT")
BUCKET = os.environ.get("MODELREG_S3_TEST_BUCKET", "modelreg-test")

if not ENDPOINT:
    if os.environ.get("MODELREG_REQUIRE_S3"):
        raise RuntimeError("MODELREG_REQUIRE_S3 is set but MODELREG_S3_TEST_ENDPOINT is not: eval \"$(.ci/s3-test-server)\"")
    pytest.skip("no S3 test server (eval \"$(.ci/s3-test-server)\")", allow_module_level=True)


@pytest.fixture
def location():
    return f"s3://{BUCKET}/python-{uuid.uuid4().hex}"


def test_save_load_and_follow_on_s3(location, tmp_path):
    assert modelreg._native.S3_SUPPORT
    writer = modelreg.Registry(location, s3_endpoint=ENDPOINT, cache=False)
    writer.save_model("1.0.0", {"weights": [1, 2]}, {"test_score": 0.5}, serializer="pickle")
    writer.promote("1.0.0", "production")
    reader = modelreg.Registry(location, s3_endpoint=ENDPOINT, cache_dir=tmp_path / "cache")
    model, metadata = reader.get_model("1.0.0")
    assert model == {"weights": [1, 2]} and metadata["test_score"] == 0.5
    assert metadata["environment"]["source"] == "pickle imports"
    with reader.follow("production", poll_seconds=60) as production:
        assert production.current.version == "1.0.0"
        writer.save_model("1.0.1", {"weights": [3]}, serializer="pickle")
        writer.promote("1.0.1", "production")
        assert production.refresh() is True
        assert production.current.version == "1.0.1" and production.model == {"weights": [3]}
    assert any((tmp_path / "cache").rglob("*")), "the reader's loads were cached"
    assert reader.list_versions() == ["1.0.0", "1.0.1"]
    assert writer.verify()["ok"]


def test_serve_follows_an_alias_on_s3(location, tmp_path):
    writer = modelreg.Registry(location, s3_endpoint=ENDPOINT, cache=False)
    writer.save_model("1.0.0", Echo(), serializer="pickle")
    writer.save_model("1.1.0", Echo(suffix="!"), serializer="pickle")
    writer.promote("1.0.0", "production")
    extra = ["--s3-endpoint", ENDPOINT, "--cache-dir", str(tmp_path / "cache")]
    with serve(location, "models:/default@production", extra=extra) as server:
        status, body = server.request("POST", "/v2/models/default/infer", texts_request(["a"]))
        assert status == 200 and body["outputs"][0]["data"] == ["A"], body
        writer.promote("1.1.0", "production")
        for _ in range(200):
            status, body = server.request("POST", "/v2/models/default/infer", texts_request(["a"]))
            if body.get("model_version") == "1.1.0":
                break
            __import__("time").sleep(0.05)
        assert status == 200 and body["outputs"][0]["data"] == ["A!"], body
