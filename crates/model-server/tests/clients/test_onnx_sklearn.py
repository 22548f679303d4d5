"""scikit-learn models exported with skl2onnx's defaults (ending in ZipMap),
registered with `registry add --type onnx`, served by model-server and
called with tritonclient.http: the answers equal scikit-learn's predict and
predict_proba to 1e-4.
"""

import numpy as np
import pytest
import tritonclient.http as httpclient
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from serving import model_server, run

X, Y = load_iris(return_X_y=True)
X = X.astype(np.float32)
MODELS = {
    "logreg": LogisticRegression(max_iter=500).fit(X, Y),
    "forest": RandomForestClassifier(n_estimators=20, max_depth=5, random_state=1).fit(X, Y),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("onnx")
    registry = work / "registry"
    serve = []
    for name, model in MODELS.items():
        path = work / f"{name}.onnx"
        path.write_bytes(to_onnx(model, X[:1]).SerializeToString())
        reg = ["registry", "--registry", str(registry), "--model", name]
        run(*reg, "add", str(path), "--type", "onnx")
        run(*reg, "promote", "latest", "--to", "production")
        serve += ["--serve", f"models:/{name}@production"]
    with model_server(registry, *serve) as url:
        yield url


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("binary", [True, False])
def test_answers_equal_scikit_learn(server: str, name: str, binary: bool) -> None:
    client = httpclient.InferenceServerClient(url=server)
    meta = client.get_model_metadata(name)
    assert meta["platform"] == "onnx"
    assert meta["inputs"][0]["shape"] == [-1, 4]
    tensor = httpclient.InferInput(meta["inputs"][0]["name"], list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(o["name"], binary_data=binary) for o in meta["outputs"]]
    result = client.infer(name, [tensor], outputs=outputs)
    model = MODELS[name]
    np.testing.assert_array_equal(result.as_numpy("output_label"), model.predict(X))
    np.testing.assert_allclose(result.as_numpy("output_probability"), model.predict_proba(X), atol=1e-4)
    labels = result.get_output("output_probability")["parameters"]["labels"]
    assert labels == [str(c) for c in model.classes_]
