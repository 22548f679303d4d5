"""The iris half of `just bench-serve`: one scikit-learn RandomForest
trained on iris, saved twice: with joblib for Seldon MLServer's sklearn
runtime, and exported by skl2onnx with its defaults (ending in ZipMap) for
model-server. Both are asked for labels and probabilities of one row per
request over the Open Inference Protocol v2."""
import json
import pathlib
import subprocess

EXPORT = """
import sys, joblib
import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
X, y = load_iris(return_X_y=True)
X = X.astype(np.float32)
model = RandomForestClassifier(random_state=0).fit(X, y)
joblib.dump(model, sys.argv[1])
open(sys.argv[2], "wb").write(to_onnx(model, X[:1]).SerializeToString())
"""

ROW = [5.1, 3.5, 1.4, 0.2]


def prepare(py: str, tmp: pathlib.Path, port: int) -> tuple[pathlib.Path, pathlib.Path]:
    """Trains and saves the model; returns (MLServer's model repository,
    the ONNX file). The repository's settings.json keeps MLServer's
    defaults except its ports, its host and its debug logging."""
    repo = tmp / "mlserver"
    (repo / "iris").mkdir(parents=True)
    onnx = tmp / "iris.onnx"
    subprocess.run([py, "-c", EXPORT, str(repo / "iris" / "model.joblib"), str(onnx)], check=True)
    (repo / "settings.json").write_text(
        json.dumps({"debug": False, "host": "127.0.0.1", "http_port": port, "grpc_port": port + 1,
                    "metrics_port": port + 2})
    )
    (repo / "iris" / "model-settings.json").write_text(
        json.dumps({"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"}})
    )
    return repo, onnx


def mlserver_body() -> str:
    """One row; MLServer's sklearn runtime answers `predict` unless asked,
    so it is asked for both outputs model-server answers by default."""
    return json.dumps({
        "inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    })


def model_server_body() -> str:
    """One row for the ONNX graph's input `X`; the answer holds the label
    and the [1, 3] probabilities."""
    return json.dumps({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}]})
