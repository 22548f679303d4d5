"""The seed's three calls and the rest of the API, on a fresh registry."""

import json
import pickle

import pytest

import modelreg


class Thresholds:
    """A stand-in model: any picklable object."""

    def __init__(self, cut):
        self.cut = cut

    def __eq__(self, other):
        return isinstance(other, Thresholds) and other.cut == self.cut


def test_save_then_get_latest_and_get_model(reg):
    saved = reg.save_model("1.0.0", Thresholds(0.5), {"test_score": 0.91, "hyperparameters": {"cut": 0.5}})
    assert saved["version"] == "1.0.0"
    for key in ("timestamp", "metadata_sha256", "lineage", "artifact"):
        assert key in saved
    assert saved["lineage"]["created_by"]["user"]
    assert saved["lineage"]["code"]["name"] == "modelreg-python"
    assert saved["model_type"] == "test_seed_api.Thresholds"
    reg.save_model("1.1.0", Thresholds(0.7), {"test_score": 0.93})

    model, metadata = reg.get_latest_model()
    assert model == Thresholds(0.7) and metadata["version"] == "1.1.0"
    assert metadata["lineage"]["parent_version"] == "1.0.0"
    model, metadata = reg.get_model("1.0.0")
    assert model == Thresholds(0.5) and metadata["test_score"] == 0.91
    assert metadata == saved


def test_bump_picks_the_next_version(reg):
    assert reg.save_model(model=0, bump="minor")["version"] == "1.0.0"  # the first version, whatever the bump
    assert reg.save_model(model=1, bump="patch")["version"] == "1.0.1"
    assert reg.save_model(model=2, bump="minor")["version"] == "1.1.0"
    assert reg.save_model(model=3, bump="major")["version"] == "2.0.0"
    assert reg.save_model(model=4)["version"] == "2.0.1"
    assert reg.list_versions() == ["1.0.0", "1.0.1", "1.1.0", "2.0.0", "2.0.1"]


@pytest.mark.parametrize("serializer,extension", [("pickle", "pkl"), ("joblib", "joblib")])
def test_builtin_serializers_are_recorded_and_used(reg, serializer, extension):
    saved = reg.save_model("1.0.0", {"weights": [1, 2, 3]}, serializer=serializer)
    assert saved["serializer"] == serializer
    assert saved["artifact"]["file"] == f"model.{extension}"
    assert reg.get_latest_model()[0] == {"weights": [1, 2, 3]}


def test_default_serializer_is_joblib_when_installed(reg):
    assert reg.save_model("1.0.0", [1])["serializer"] == "joblib"


def test_bytes_are_stored_as_they_are(reg, tmp_path):
    onnx = b"\x08\x07onnx-ish"
    reg.save_model("1.0.0", onnx, serializer="bytes")
    model, metadata = reg.get_model("1.0.0")
    assert model == onnx and metadata["serializer"] == "bytes"
    out = reg.get_file("1.0.0", tmp_path / "model.bin")
    assert out.read_bytes() == onnx


class Json:
    name = "json"
    extension = "json"

    @staticmethod
    def dumps(obj):
        return json.dumps(obj).encode()

    @staticmethod
    def loads(data):
        return json.loads(data)


def test_custom_serializer_must_be_given_again_to_load(reg):
    saved = reg.save_model("1.0.0", {"a": 1}, serializer=Json())
    assert saved["serializer"] == "custom:json"
    with pytest.raises(modelreg.InvalidInput, match="custom:json"):
        reg.get_latest_model()
    assert reg.get_latest_model(serializer=Json())[0] == {"a": 1}


def test_files_and_directories(reg, tmp_path):
    model_dir = tmp_path / "hf-model"
    (model_dir / "tokenizer").mkdir(parents=True)
    (model_dir / "config.json").write_text('{"layers": 2}')
    (model_dir / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    saved = reg.save_file(model_dir, "2.0.0", {"metrics": {"f1": 0.8}})
    assert sorted(f["path"] for f in saved["files"]) == ["config.json", "tokenizer/vocab.txt"]
    out = reg.get_file("2.0.0", tmp_path / "copy")
    assert (out / "tokenizer" / "vocab.txt").read_text() == "a\nb\n"
    with pytest.raises(modelreg.OutputExists):
        reg.get_file("2.0.0", tmp_path / "copy")
    with pytest.raises(modelreg.NotFound, match="get_file|files"):
        reg.get_model("2.0.0")
    single = tmp_path / "model.onnx"
    single.write_bytes(b"onnx")
    reg.save_file(single, bump="patch")
    assert reg.get_latest_model()[0] == b"onnx"


def test_aliases_promote_rollback_history(reg):
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        reg.save_model(v, v, {"test_score": {"1.0.0": 0.8, "1.1.0": 0.9, "1.2.0": 0.85}[v]})
    assert reg.promote("1.0.0", "production")["changed"]
    assert not reg.promote("1.0.0", "production")["changed"]
    reg.promote("1.1.0", "production", expect="1.0.0")
    with pytest.raises(modelreg.AliasConflict, match="production"):
        reg.promote("1.2.0", "production", expect="1.0.0")
    with pytest.raises(modelreg.PromotionRefused, match="test_score"):
        reg.promote("1.2.0", "production", if_better=True)
    assert reg.resolve("production") == "1.1.0"
    model, metadata = reg.get_by_alias("production")
    assert model == "1.1.0" and metadata["version"] == "1.1.0"
    assert reg.rollback("production")["version"] == "1.0.0"
    assert [h["version"] for h in reg.history("production")] == ["1.0.0", "1.1.0", "1.0.0"]
    reg.promote("latest", "staging")
    assert reg.resolve("staging") == "1.2.0"
    assert {a["alias"] for a in reg.aliases()} >= {"production", "staging", "latest"}


def test_delete_refuses_an_aliased_version_hides_and_refuses_a_deleted_one_and_undelete_restores_it(reg):
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        reg.save_model(v, v)
    reg.promote("1.0.0", "production")
    with pytest.raises(modelreg.Refused, match="alias production names it") as refused:
        reg.delete("1.0.0")
    assert refused.value.code == "version_in_use"
    with pytest.raises(modelreg.Refused, match="alias latest names it"):
        reg.delete("latest")

    record = reg.delete("1.1.0", reason="leaked labels")
    assert record["deleted"] and record["reason"] == "leaked labels" and record["seq"] == 1
    assert reg.list_versions() == ["1.0.0", "1.2.0"]
    with pytest.raises(modelreg.VersionDeleted, match=r"deleted on .* \(leaked labels\)") as deleted:
        reg.get_model("1.1.0")
    assert isinstance(deleted.value, modelreg.NotFound) and deleted.value.code == "version_deleted"
    with pytest.raises(modelreg.VersionDeleted):
        reg.promote("1.1.0", "staging")
    with pytest.raises(modelreg.VersionDeleted):
        reg.delete("1.1.0")
    assert reg.verify()["ok"]

    assert not reg.undelete("1.1.0")["deleted"]
    assert reg.get_model("1.1.0")[0] == "1.1.0"
    assert reg.list_versions() == ["1.0.0", "1.1.0", "1.2.0"]
    with pytest.raises(modelreg.Refused, match="not deleted"):
        reg.undelete("1.1.0")


def test_list_versions_filters_like_the_cli(reg):
    for i, score in enumerate([0.7, 0.9, 0.8]):
        reg.save_model(f"1.{i}.0", i, {"test_score": score, "metrics": {"f1": score - 0.1}, "tags": {"team": "a"}})
    assert reg.list_versions(where="test_score>=0.8") == ["1.1.0", "1.2.0"]
    assert reg.list_versions(where=["test_score>=0.8", "f1<0.75"]) == ["1.2.0"]
    assert reg.list_versions(sort="test_score", descending=True, limit=1) == ["1.1.0"]
    rows = reg.list_versions(details=True)
    assert rows[0]["tags"] == {"team": "a"} and rows[0]["deprecated"] is False
    with pytest.raises(modelreg.InvalidInput):
        reg.list_versions(where="test_score >>> 1")


def test_named_models_and_uris(tmp_path):
    root = tmp_path / "registry"
    spam = modelreg.Registry(root, model="spam")
    spam.save_model("1.0.0", "spam-model")
    spam.promote("1.0.0", "production")
    default = modelreg.Registry(root)
    default.save_model("3.0.0", "default-model")
    assert default.models() == ["spam"]
    assert default.load("models:/spam@production")[0] == "spam-model"
    assert spam.load("models:/default/3.0.0")[0] == "default-model"
    assert modelreg.load("models:/spam/1.0.0", registry=root)[0] == "spam-model"
    assert spam.list_versions() == ["1.0.0"] and default.list_versions() == ["3.0.0"]
    with pytest.raises(modelreg.NotFound, match="spam"):
        modelreg.Registry(root, model="spma").get_latest_model()


def test_verify_reports_a_healthy_registry(reg):
    reg.save_model("1.0.0", 1)
    report = reg.verify()
    assert report["ok"] and report["versions_checked"] == 1 and report["problems"] == []


def test_a_pickle_changed_after_saving_is_refused_before_it_runs(reg, tmp_path):
    reg.save_model("1.0.0", "harmless", serializer="pickle")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "registry" / "versions" / "1.0.0" / "model.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(modelreg.IntegrityError, match="1.0.0"):
        reg.get_latest_model()
    assert not marker.exists()
    assert not reg.verify()["ok"]
