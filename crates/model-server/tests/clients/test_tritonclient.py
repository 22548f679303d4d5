"""model-server driven by tritonclient.http (PyPI), unchanged: every Open
Inference Protocol endpoint, JSON and binary tensors, two models, a
version pinned by URL, and the protocol's errors.

Needs the debug builds of trainer, registry and model-server in
MODELREG_BIN_DIR (`.ci/serving-clients` builds them and installs the
client).
"""

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from serving import ROOT, model_server, run

TINY = ROOT / "fixtures" / "tiny.tsv"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    registry = tmp_path_factory.mktemp("reg") / "registry"
    for model in ("default", "spam"):
        extra = [] if model == "default" else ["--model", model]
        run("trainer", "--data", str(TINY), "--folds", "3", "--quiet", "--registry", str(registry), *extra)
        run("registry", "--registry", str(registry), *extra, "promote", "latest", "--to", "production")
    with model_server(
        registry, "--serve", "models:/default@production", "--serve", "models:/spam@production"
    ) as url:
        yield url


@pytest.fixture
def client(server: str) -> httpclient.InferenceServerClient:
    return httpclient.InferenceServerClient(url=server)


def texts(values: list[str], binary: bool) -> httpclient.InferInput:
    data = np.array([v.encode() for v in values], dtype=np.object_)
    tensor = httpclient.InferInput("text", [len(values)], "BYTES")
    tensor.set_data_from_numpy(data, binary_data=binary)
    return tensor


def test_health_and_server_metadata(client: httpclient.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "modelreg model-server"
    assert "binary_tensor_data" in meta["extensions"]


@pytest.mark.parametrize("model", ["default", "spam"])
def test_model_metadata_and_readiness(client: httpclient.InferenceServerClient, model: str) -> None:
    assert client.is_model_ready(model)
    meta = client.get_model_metadata(model)
    assert meta["name"] == model
    assert meta["versions"] == ["1.0.0"]
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    outputs = {o["name"]: o for o in meta["outputs"]}
    assert outputs["label"]["datatype"] == "BYTES"
    assert outputs["probabilities"]["datatype"] == "FP32"
    assert outputs["probabilities"]["shape"][1] == len(outputs["probabilities"]["parameters"]["labels"])
    assert client.is_model_ready(model, model_version="1.0.0")
    assert client.get_model_metadata(model, model_version="1.0.0")["versions"] == ["1.0.0"]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model", ["default", "spam"])
def test_infer_binary_and_json(client: httpclient.InferenceServerClient, model: str, binary: bool) -> None:
    values = ["a wonderful, moving film", "a dull and tedious mess", "ça va"]
    outputs = None if binary else [
        httpclient.InferRequestedOutput("label", binary_data=False),
        httpclient.InferRequestedOutput("probabilities", binary_data=False),
    ]
    result = client.infer(model, [texts(values, binary)], outputs=outputs, request_id="42")
    response = result.get_response()
    assert response["model_name"] == model
    assert response["model_version"] == "1.0.0"
    assert response["id"] == "42"
    labels = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    assert labels.shape == (3,)
    assert probabilities.shape[0] == 3 and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    names = result.get_output("probabilities")["parameters"]["labels"]
    predicted = [names[i] for i in probabilities.argmax(axis=1)]
    assert [v.decode() if isinstance(v, bytes) else v for v in labels] == predicted


def test_a_pinned_version_url_and_one_output(client: httpclient.InferenceServerClient) -> None:
    result = client.infer(
        "spam",
        [texts(["fine"], True)],
        model_version="1.0.0",
        outputs=[httpclient.InferRequestedOutput("label")],
    )
    assert result.as_numpy("probabilities") is None
    assert result.as_numpy("label").shape == (1,)


def test_errors_reach_the_client_as_messages(client: httpclient.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException, match="not served here"):
        client.get_model_metadata("ham")
    assert not client.is_model_ready("ham")
    with pytest.raises(InferenceServerException, match="serves version 1.0.0 here"):
        client.infer("spam", [texts(["x"], True)], model_version="9.9.9")
    wrong = httpclient.InferInput("words", [1], "BYTES")
    wrong.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="it takes text"):
        client.infer("spam", [wrong])
    numbers = httpclient.InferInput("text", [2], "FP32")
    numbers.set_data_from_numpy(np.array([1.0, 2.0], dtype=np.float32))
    with pytest.raises(InferenceServerException, match="takes BYTES"):
        client.infer("spam", [numbers])
    with pytest.raises(InferenceServerException, match="classification extension"):
        client.infer("spam", [texts(["x"], True)], outputs=[httpclient.InferRequestedOutput("probabilities", class_count=1)])
