"""`registry serve` on an S3 registry (the local moto server of
.ci/s3-test-server): the client's whole flow, then the CLI's checks."""

import os
import uuid
from pathlib import Path

import pytest
from serving import registry_json, run_flow, serve

ENDPOINT = os.environ.get("MODELREG_S3_TEST_ENDPOINT")
BUCKET = os.environ.get("MODELREG_S3_TEST_BUCKET", "modelreg-test")

if not ENDPOINT:
    if os.environ.get("MODELREG_REQUIRE_S3"):
        raise RuntimeError("MODELREG_REQUIRE_S3 is set but MODELREG_S3_TEST_ENDPOINT is not: eval \"$(.ci/s3-test-server)\"")
    pytest.skip("no S3 test server (eval \"$(.ci/s3-test-server)\")", allow_module_level=True)


def test_the_flow_on_an_s3_registry(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODELREG_S3_ENDPOINT", ENDPOINT)
    location = f"s3://{BUCKET}/mlflow-{uuid.uuid4().hex}"
    with serve(location, "--no-cache") as url:  # type: ignore[arg-type]
        seen = run_flow(url)
    assert seen["versions"] == [1, 2]
    history = registry_json(location, "--model", "spam", "history", "production")  # type: ignore[arg-type]
    assert [h["version"] for h in history] == ["1.0.0", "2.0.0", "1.0.0"]
    verify = registry_json(location, "verify")  # type: ignore[arg-type]
    assert all(not m["problems"] for m in verify["models"]), verify
