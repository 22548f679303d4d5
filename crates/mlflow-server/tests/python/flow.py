"""The MLflow flows `registry serve` must answer, with the real `mlflow`
client: run against `MLFLOW_TRACKING_URI`. Prints one JSON line of what it
saw, for the caller to check against the registry."""

import json
import os
import sys
import time

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

NAME = os.environ.get("FLOW_MODEL", "spam")
TEXTS = ["free money now", "meeting at noon", "win a prize", "lunch tomorrow?"] * 5
LABELS = [1, 0, 1, 0] * 5
MAJOR = int(mlflow.__version__.split(".")[0])


class Upper(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [str(x).upper() for x in model_input.iloc[:, 0]]


def train(c):
    return make_pipeline(TfidfVectorizer(), LogisticRegression(C=c)).fit(TEXTS, LABELS)


def log(c, **kw):
    with mlflow.start_run() as run:
        mlflow.log_param("C", c)
        mlflow.log_params({"vectorizer": "tfidf", "solver": "lbfgs"})
        mlflow.log_metric("accuracy", 0.9 + c / 100)
        mlflow.log_metrics({"f1": 0.8, "loss": 0.25})
        mlflow.set_tag("team", "fraud")
        model = train(c)
        if MAJOR >= 3:
            info = mlflow.sklearn.log_model(model, name="model", input_example=TEXTS[:2], **kw)
        else:
            info = mlflow.sklearn.log_model(model, artifact_path="model", input_example=TEXTS[:2], **kw)
    return run, info


def main():
    seen = {"mlflow": mlflow.__version__}
    mlflow.set_experiment("spam-detection")
    t0 = time.perf_counter()
    run1, info1 = log(1.0, registered_model_name=NAME)
    seen["log_model_seconds"] = time.perf_counter() - t0
    seen["run1"] = run1.info.run_id
    client = MlflowClient()
    rm = client.get_registered_model(NAME)
    assert rm.name == NAME, rm
    v1 = client.get_model_version(NAME, "1")
    assert v1.status == "READY", v1
    assert v1.run_id == run1.info.run_id, (v1.run_id, run1.info.run_id)

    # register_model on an existing name relies on RESOURCE_ALREADY_EXISTS.
    run2, info2 = log(10.0)
    mv2 = mlflow.register_model(info2.model_uri, NAME)
    assert mv2.version == "2", mv2

    # A registered model created explicitly, a version from a pyfunc model.
    client.create_registered_model(NAME + "-upper", description="upper-cases")
    try:
        client.create_registered_model(NAME + "-upper")
        raise AssertionError("creating it twice must fail")
    except mlflow.exceptions.MlflowException as e:
        assert e.error_code == "RESOURCE_ALREADY_EXISTS", e.error_code
    with mlflow.start_run() as run3:
        if MAJOR >= 3:
            info3 = mlflow.pyfunc.log_model(name="upper", python_model=Upper())
        else:
            info3 = mlflow.pyfunc.log_model(artifact_path="upper", python_model=Upper())
    extra = {"model_id": info3.model_id} if MAJOR >= 3 else {}
    mv3 = client.create_model_version(NAME + "-upper", info3.model_uri, run_id=run3.info.run_id, **extra)
    assert mv3.version == "1", mv3
    assert client.get_model_version(NAME + "-upper", "1").status == "READY"
    names = sorted(m.name for m in client.search_registered_models())
    assert NAME in names and NAME + "-upper" in names, names

    client.set_registered_model_alias(NAME, "production", "1")
    assert client.get_model_version_by_alias(NAME, "production").version == "1"
    client.set_model_version_tag(NAME, "1", "validated", "yes")
    client.update_model_version(NAME, "1", description="first try")
    got = client.get_model_version(NAME, "1")
    assert got.tags == {"validated": "yes"}, got.tags
    assert got.description == "first try", got.description

    prod = mlflow.pyfunc.load_model(f"models:/{NAME}@production")
    seen["production_predictions"] = [int(x) for x in prod.predict(TEXTS[:4])]
    two = mlflow.sklearn.load_model(f"models:/{NAME}/2")
    seen["v2_predictions"] = [int(x) for x in two.predict(TEXTS[:4])]
    upper = mlflow.pyfunc.load_model(f"models:/{NAME}-upper/1")
    import pandas as pd

    seen["upper"] = list(upper.predict(pd.DataFrame({"t": ["ab", "cd"]})))
    assert seen["upper"] == ["AB", "CD"], seen["upper"]

    # Promote 2, then roll back to 1 by moving the alias back.
    client.set_registered_model_alias(NAME, "production", "2")
    assert client.get_model_version_by_alias(NAME, "production").version == "2"
    client.set_registered_model_alias(NAME, "production", "1")
    client.set_registered_model_alias(NAME, "staging", "2")
    client.delete_registered_model_alias(NAME, "staging")
    try:
        client.get_model_version_by_alias(NAME, "staging")
        raise AssertionError("a deleted alias must not resolve")
    except mlflow.exceptions.MlflowException as e:
        assert e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"), e.error_code

    # Pagination over search_model_versions.
    versions = []
    page = client.search_model_versions(f"name='{NAME}'", max_results=1)
    versions += page
    while page.token:
        page = client.search_model_versions(f"name='{NAME}'", max_results=1, page_token=page.token)
        versions += page
    seen["versions"] = sorted(int(v.version) for v in versions)
    assert seen["versions"] == [1, 2], seen["versions"]

    try:
        client.get_model_version(NAME, "99")
        raise AssertionError("version 99 does not exist")
    except mlflow.exceptions.MlflowException as e:
        assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code

    seen["run1_params"] = dict(client.get_run(run1.info.run_id).data.params)
    seen["wall_seconds"] = time.perf_counter() - t0
    print(json.dumps(seen))


if __name__ == "__main__":
    sys.exit(main())
