"""One registry, two languages: what Python saves the command-line tools
list, show, diff, verify, promote and report; what the trainer and
`registry add` save Python loads."""

import json

import modelreg
from conftest import FIXTURES, read_tsv


def test_the_cli_manages_versions_saved_from_python(tmp_path, cli):
    root = tmp_path / "registry"
    reg = modelreg.Registry(root, model="spam")
    reg.save_model("1.0.0", {"w": 1}, {"test_score": 0.8, "hyperparameters": {"C": 1}, "tags": {"team": "a"}})
    reg.save_model("1.1.0", {"w": 2}, {"test_score": 0.9, "hyperparameters": {"C": 3}})
    args = ["--registry", root, "--model", "spam"]

    listed = json.loads(cli("registry", *args, "--json", "list").stdout)
    assert [v["version"] for v in listed] == ["1.0.0", "1.1.0"]
    shown = json.loads(cli("registry", *args, "--json", "show", "1.0.0").stdout)
    assert shown["serializer"] == "joblib" and shown["tags"] == {"team": "a"}
    diff = cli("registry", *args, "diff", "1.0.0", "1.1.0").stdout
    assert "hyperparameters.C" in diff and "test_score" in diff
    assert "0 problems" in cli("registry", *args, "verify").stdout
    assert "serializer:" in cli("registry", *args, "show", "1.0.0").stdout
    cli("registry", *args, "promote", "1.1.0", "--to", "production")
    assert reg.resolve("production") == "1.1.0"
    cli("registry", *args, "report", "--out", tmp_path / "report.html")
    assert "1.1.0" in (tmp_path / "report.html").read_text()
    out = tmp_path / "model.joblib"
    cli("registry", *args, "get", "1.0.0", "--out", out)
    assert reg.get_model("1.0.0", serializer="bytes")[0] == out.read_bytes()
    assert reg.history("production")[0]["version"] == "1.1.0"


def test_python_loads_what_the_trainer_and_registry_add_saved(tmp_path, cli):
    root = tmp_path / "registry"
    cli("trainer", "--data", FIXTURES / "uci_sentiment_sentences.tsv", "--registry", root, "--version", "1.0.0")
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07onnx")
    cli("registry", "--registry", root, "--model", "vision", "add", onnx, "--version", "0.1.0", "--test-score", "0.7")

    classifier, metadata = modelreg.Registry(root).get_latest_model()
    assert isinstance(classifier, modelreg.TextClassifier)
    assert metadata["model_type"] == modelreg._native.TEXTCLF_MODEL_TYPE
    assert classifier.predict(["What a wonderful, moving film", "Dreadful and boring"]) == ["positive", "negative"]
    raw, metadata = modelreg.Registry(root).get_latest_model(serializer="bytes")
    assert raw == classifier.to_bytes()
    model, metadata = modelreg.Registry(root).load("models:/vision/0.1.0")
    assert model == b"\x08\x07onnx" and metadata["test_score"] == 0.7


def test_a_classifier_fitted_in_python_is_the_trainers_model(tmp_path, cli):
    """Same data and seed: the same model bytes as `trainer`, and
    `predictor` serves the version Python saved."""
    root = tmp_path / "registry"
    data = FIXTURES / "uci_sentiment_sentences.tsv"
    cli("trainer", "--data", data, "--registry", root, "--model", "cli", "--version", "1.0.0")
    texts, labels = read_tsv("uci_sentiment_sentences.tsv")
    clf = modelreg.TextClassifier().fit(texts, labels, folds=5, seed=42)
    trained, trained_md = modelreg.Registry(root, model="cli").get_latest_model()
    assert clf.to_bytes() == trained.to_bytes()
    assert clf.best_params_ == trained_md["hyperparameters"]
    assert abs(clf.test_score_ - trained_md["test_score"]) < 1e-12

    reg = modelreg.Registry(root, model="py")
    saved = reg.save_model("1.0.0", clf, {"description": "fitted from Python", "data": str(data)})
    assert saved["test_score"] == trained_md["test_score"] and saved["cv_score"] == trained_md["cv_score"]
    assert saved["metrics"]["n_features"] == trained_md["metrics"]["n_features"]
    assert saved["lineage"]["data"]["sha256"] == trained_md["lineage"]["data"]["sha256"]
    predicted = cli("predictor", "--registry", root, "--model", "py", "An utterly delightful film").stdout
    assert predicted.startswith("positive")


def test_a_pickle_registered_with_its_serializer_loads_as_the_model(tmp_path, cli):
    """`registry add --serializer pickle` records how the file was written,
    so `load()` returns the object, not its bytes."""
    import pickle

    root = tmp_path / "registry"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    cli("registry", "--registry", root, "--model", "spam", "add", path, "--type", "sklearn", "--serializer", "pickle")
    model, metadata = modelreg.Registry(root).load("models:/spam/1.0.0")
    assert model == {"weights": [1, 2, 3]} and metadata["serializer"] == "pickle"
    cli("registry", "--registry", root, "--model", "raw", "add", path)
    raw, _ = modelreg.Registry(root).load("models:/raw/1.0.0")
    assert raw == path.read_bytes()
