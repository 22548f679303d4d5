"""Bad input raises the matching exception, names what was wrong, and
leaves nothing behind."""

import os

import pytest

import modelreg


def assert_untouched(reg, versions):
    assert reg.list_versions() == versions
    report = reg.verify()
    assert report["ok"] and report["leftovers"] == [], report


def test_version_that_is_not_a_string(reg):
    with pytest.raises(modelreg.InvalidType, match="version must be a string"):
        reg.save_model(1.0, "model")
    with pytest.raises(TypeError):
        reg.get_model(1)


def test_malformed_versions_and_aliases(reg):
    with pytest.raises(modelreg.InvalidName, match="1.0"):
        reg.save_model("1.0", "model")
    with pytest.raises(modelreg.InvalidName):
        reg.get_model("not a version!")
    with pytest.raises(modelreg.InvalidName):
        reg.promote("1.0.0", "Bad Alias")
    with pytest.raises(modelreg.InvalidName):
        modelreg.Registry("ftp://example/registry")
    with pytest.raises(modelreg.InvalidName):
        modelreg.Registry(os.devnull, model="no/slashes")


def test_metadata_that_json_cannot_hold(reg):
    reg.save_model("1.0.0", "model")
    with pytest.raises(modelreg.InvalidType, match=r"metadata\['tags'\]\['when'\] is a set"):
        reg.save_model("1.1.0", "model", {"tags": {"when": {1, 2}}})
    with pytest.raises(modelreg.InvalidInput, match=r"metadata\['cv_score'\] is nan"):
        reg.save_model("1.1.0", "model", {"cv_score": float("nan")})
    with pytest.raises(modelreg.InvalidInput, match=r"metrics'\]\['loss'\] is inf"):
        reg.save_model("1.1.0", "model", {"metrics": {"loss": float("inf")}})
    with pytest.raises(modelreg.InvalidInput, match="unknown key \"hyperparams\""):
        reg.save_model("1.1.0", "model", {"hyperparams": {}})
    with pytest.raises(modelreg.InvalidInput, match="test_score must be a finite number"):
        reg.save_model("1.1.0", "model", {"test_score": "high"})
    with pytest.raises(modelreg.InvalidType, match="metadata must be a dict"):
        reg.save_model("1.1.0", "model", ["test_score", 1])
    with pytest.raises(modelreg.InvalidInput, match="filled in by the registry"):
        reg.save_model("1.1.0", "model", {"timestamp": "now"})
    # A data file that is not there is the caller's input (as `registry add
    # --data`, exit 2), not a storage failure.
    with pytest.raises(modelreg.InvalidInput, match="missing.tsv.*does not exist"):
        reg.save_model("1.1.0", "model", {"data": "missing.tsv"})
    assert_untouched(reg, ["1.0.0"])


def test_serializers_that_cannot(reg):
    with pytest.raises(modelreg.InvalidInput, match="unknown serializer 'yaml'"):
        reg.save_model("1.0.0", "model", serializer="yaml")
    with pytest.raises(modelreg.InvalidInput, match="has no dumps/loads"):
        reg.save_model("1.0.0", "model", serializer=42)
    with pytest.raises(modelreg.InvalidInput, match="cannot serialise the model .* with pickle"):
        reg.save_model("1.0.0", lambda x: x, serializer="pickle")
    with pytest.raises(modelreg.InvalidInput, match='serializer="bytes"'):
        reg.save_model("1.0.0", "text", serializer="bytes")
    assert_untouched(reg, [])


def test_existing_version(reg):
    reg.save_model("1.0.0", "first")
    with pytest.raises(modelreg.VersionExists, match="1.0.0 already exists") as exists:
        reg.save_model("1.0.0", "second")
    # The way out, in Python's terms rather than the command line's.
    assert 'pass bump="patch"' in str(exists.value) and "--bump" not in str(exists.value)
    assert reg.get_model("1.0.0")[0] == "first"
    with pytest.raises(modelreg.InvalidInput, match="not both"):
        reg.save_model("1.0.1", "x", bump="patch")
    with pytest.raises(modelreg.InvalidInput, match="bump='tiny'|bump=\"tiny\""):
        reg.save_model(model="x", bump="tiny")
    assert_untouched(reg, ["1.0.0"])


def test_missing_registry_and_targets(tmp_path):
    missing = modelreg.Registry(tmp_path / "nowhere")
    with pytest.raises(modelreg.NotFound, match="nowhere"):
        missing.get_latest_model()
    assert not (tmp_path / "nowhere").exists()
    reg = modelreg.Registry(tmp_path / "registry")
    reg.save_model("1.0.0", 1)
    with pytest.raises(modelreg.NotFound, match="production"):
        reg.get_by_alias("production")
    with pytest.raises(LookupError):
        reg.get_model("2.0.0")


def test_damaged_registry(reg, tmp_path):
    reg.save_model("1.0.0", [1, 2, 3], serializer="pickle")
    meta = tmp_path / "registry" / "versions" / "1.0.0" / "metadata.json"
    meta.write_text(meta.read_text().replace('"1.0.0"', '"1.0.1"', 1))
    with pytest.raises(modelreg.IntegrityError, match="metadata"):
        reg.get_model("1.0.0")
    meta.write_bytes(b"\x00garbage")
    with pytest.raises(modelreg.IntegrityError):
        reg.metadata("1.0.0")


def test_classifier_inputs():
    clf = modelreg.TextClassifier()
    with pytest.raises(modelreg.NotFitted):
        clf.predict(["x"])
    # Integers are labels, as in scikit-learn (test_classifier.py); floats
    # are not.
    with pytest.raises(modelreg.InvalidInput, match=r"labels\[0\] is a float, not a string"):
        clf.fit(["a", "b"], [0.5, 1.5])
    with pytest.raises(modelreg.InvalidInput, match="not one string"):
        clf.fit("text", ["a"])
    with pytest.raises(modelreg.InvalidInput, match="texts but"):
        clf.fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(modelreg.InvalidInput, match="grid"):
        clf.fit(["a", "b"] * 10, ["x", "y"] * 10, grid=[{"bogus": 1}])
    with pytest.raises(modelreg.InvalidInput, match="auto, full or halving"):
        clf.fit(["a", "b"] * 10, ["x", "y"] * 10, search="fast")
    with pytest.raises(modelreg.InvalidInput, match="time_budget"):
        clf.fit(["a", "b"] * 10, ["x", "y"] * 10, time_budget=-1)


def test_every_error_kind_has_its_class():
    # The Rust side picks a class by the error's kind (registry-core's one
    # table); each must exist here and be a RegistryError.
    from modelreg import _native, errors

    for name in _native.error_classes():
        cls = getattr(errors, name)
        assert issubclass(cls, modelreg.RegistryError), name
        assert name in errors.__all__, name
    assert issubclass(modelreg.VersionExists, errors.Refused)
    assert issubclass(modelreg.AliasConflict, errors.Refused)


def test_bytes_a_serializer_cannot_decode_are_an_integrity_error(reg):
    # Consistent digests, but not a pickle: the serializer's own exception
    # (pickle.UnpicklingError, ...) never leaks; it is the __cause__.
    reg.save_model("1.0.0", b"definitely not a pickle", serializer="bytes")
    with pytest.raises(modelreg.IntegrityError, match="version 1.0.0: the pickle serializer cannot decode") as err:
        reg.get_model("1.0.0", serializer="pickle")
    assert err.value.code == "decode"
    assert err.value.__cause__ is not None

    class Broken:
        name = "broken"

        def dumps(self, obj):
            return b"x"

        def loads(self, data):
            raise ValueError("no")

    reg.save_model("1.0.1", "anything", serializer=Broken())
    with pytest.raises(modelreg.IntegrityError, match="custom:broken serializer cannot decode.*ValueError: no"):
        reg.get_model("1.0.1", serializer=Broken())
