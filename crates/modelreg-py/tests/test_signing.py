"""Signed versions from Python: sign_key= signs as it saves, trusted_keys=
refuses what no trusted key signed — before anything is unpickled."""

import pytest

import modelreg
from conftest import ROOT

KEYS = ROOT / "crates" / "model-sign" / "tests" / "keys"


class Evil:
    """Writes a file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_signed_saves_load_with_trusted_keys(tmp_path):
    root = tmp_path / "registry"
    writer = modelreg.Registry(root)
    writer.save_model("1.0.0", {"w": 1}, sign_key=KEYS / "p256.pem")
    writer.save_file(_file(tmp_path), "1.1.0", sign_key=KEYS / "p256-encrypted.pem", key_password="secret")
    reader = modelreg.Registry(root, trusted_keys=KEYS / "p256.pub.pem")
    assert reader.get_model("1.0.0")[0] == {"w": 1}
    assert reader.get_latest_model()[0] == b"onnx"
    assert reader.is_signed("1.0.0") and reader.verify()["ok"]


def test_unsigned_or_untrusted_pickles_are_refused_before_they_run(tmp_path, monkeypatch):
    root = tmp_path / "registry"
    marker = tmp_path / "ran"
    writer = modelreg.Registry(root)
    writer.save_model("1.0.0", Evil(marker), serializer="pickle")
    writer.save_model("1.1.0", Evil(marker), serializer="pickle", sign_key=KEYS / "other.pem")
    reader = modelreg.Registry(root, trusted_keys=[KEYS / "p256.pub.pem"])
    with pytest.raises(modelreg.SignatureError, match="1.0.0.*not signed"):
        reader.get_model("1.0.0")
    with pytest.raises(modelreg.SignatureError, match="not trusted"):
        reader.get_latest_model()
    with pytest.raises(modelreg.SignatureError):
        reader.promote("1.1.0", "production")
    assert not marker.exists()
    monkeypatch.setenv("MODELREG_TRUSTED_KEYS", str(KEYS / "p256.pub.pem"))
    with pytest.raises(modelreg.SignatureError):
        modelreg.Registry(root).get_model("1.0.0")


def test_signing_afterwards_and_once(tmp_path):
    root = tmp_path / "registry"
    writer = modelreg.Registry(root)
    writer.save_model("1.0.0", "model")
    assert not writer.is_signed("1.0.0")
    assert writer.sign("latest", KEYS / "p384.pem") == "1.0.0"
    with pytest.raises(modelreg.RegistryError, match="already signed"):
        writer.sign("1.0.0", KEYS / "p384.pem")
    assert modelreg.Registry(root, trusted_keys=KEYS / "p384.pub.pem").get_model("1.0.0")[0] == "model"


def test_bad_keys_are_named(tmp_path):
    reg = modelreg.Registry(tmp_path / "registry")
    with pytest.raises(modelreg.InvalidInput, match="encrypted"):
        reg.save_model("1.0.0", 1, sign_key=KEYS / "p256-encrypted.pem")
    with pytest.raises(modelreg.InvalidInput, match="RSA"):
        reg.save_model("1.0.0", 1, sign_key=KEYS / "rsa.pem")
    with pytest.raises(modelreg.InvalidInput, match="private key"):
        modelreg.Registry(tmp_path / "registry", trusted_keys=KEYS / "p256.pem")
    with pytest.raises(modelreg.InvalidInput, match="missing.pem"):
        reg.save_model("1.0.0", 1, sign_key=tmp_path / "missing.pem")
    assert reg.list_versions() == []


def test_a_follower_with_trusted_keys_never_switches_to_an_unsigned_version(tmp_path):
    root = tmp_path / "registry"
    writer = modelreg.Registry(root)
    writer.save_model("1.0.0", "signed", sign_key=KEYS / "p256.pem")
    writer.save_model("1.1.0", "unsigned")
    writer.promote("1.0.0", "production")
    reader = modelreg.Registry(root, trusted_keys=KEYS / "p256.pub.pem")
    with reader.follow("production", poll_seconds=60) as production:
        writer.promote("1.1.0", "production")
        assert production.refresh() is False
        assert production.model == "signed"
        assert isinstance(production.last_error, modelreg.SignatureError)


def _file(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"onnx")
    return path
