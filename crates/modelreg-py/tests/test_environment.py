"""The environment of every Python save (metadata["environment"]): Python,
platform, the distributions the pickle imports with their versions, the
saving script's git commit; the warning (or strict_env refusal) when a
version is loaded under other versions."""

import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import warnings

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import modelreg
from modelreg import environment
from servemodels import Echo, Evil


def test_a_scikit_learn_save_records_what_it_needs(tmp_path):
    x, y = load_iris(return_X_y=True)
    reg = modelreg.Registry(tmp_path / "registry")
    for serializer in ("pickle", "joblib"):
        saved = reg.save_model(bump="patch", model=LogisticRegression(max_iter=500).fit(x, y), serializer=serializer)
        env = saved["environment"]
        sklearn = importlib.metadata.version("scikit-learn")
        assert env["packages"]["scikit-learn"] == sklearn
        assert env["packages"]["numpy"] == importlib.metadata.version("numpy")
        assert f"scikit-learn=={sklearn}" in env["requirements"]
        assert env["python"].endswith(".".join(map(str, sys.version_info[:3])))
        assert env["platform"] and env["source"] == "pickle imports"
        assert ("joblib" in env["packages"]) == (serializer == "joblib"), env
        assert "local_modules" not in env
        assert reg.metadata(saved["version"])["environment"] == env
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.get_latest_model(strict_env=True)  # nothing differs: no warning


def test_the_projects_own_modules_and_the_saving_scripts_commit_are_recorded(tmp_path):
    repo = tmp_path / "project"
    (repo / "train").mkdir(parents=True)
    script = repo / "train" / "save.py"
    script.write_text(textwrap.dedent(f"""
        import modelreg
        from servemodels import Echo
        modelreg.Registry({str(tmp_path / "registry")!r}).save_model("1.0.0", Echo(), serializer="pickle")
    """))
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True, text=True).stdout
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "first")
    head = git("rev-parse", "HEAD").strip()
    here = str(pathlib.Path(__file__).parent)  # servemodels
    subprocess.run([sys.executable, str(script)], check=True, env={**os.environ, "PYTHONPATH": here})
    recorded = modelreg.Registry(tmp_path / "registry").metadata("1.0.0")["environment"]
    assert recorded["script"] == "train/save.py"
    assert recorded["git_commit"] == head and recorded["git_dirty"] is False
    assert recorded["local_modules"] == ["servemodels"]
    assert recorded["packages"] == {} and recorded["requirements"] == []


def test_other_versions_warn_and_strict_env_refuses_before_unpickling(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    reg = modelreg.Registry(tmp_path / "registry")
    with monkeypatch.context() as m:
        m.setattr(environment, "_distributions", lambda modules, mapping: {"scikit-learn": "0.0.1", "nowhere-pkg": "1.0"})
        reg.save_model("1.0.0", Evil(marker), serializer="pickle")
    with pytest.raises(modelreg.EnvironmentMismatchError) as e:
        reg.get_model("1.0.0", strict_env=True)
    message = str(e.value)
    assert "scikit-learn 0.0.1 saved, " in message and "nowhere-pkg 1.0 is not installed" in message
    assert "nothing was unpickled" in message and not marker.exists()
    with pytest.warns(environment.EnvironmentMismatch, match="scikit-learn 0.0.1 saved"):
        reg.get_model("1.0.0")
    assert marker.exists(), "without strict_env the model loads"


def test_registry_add_records_a_requirements_file(tmp_path, cli):
    model = tmp_path / "model.pkl"
    import pickle

    model.write_bytes(pickle.dumps(Echo()))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# what it needs\nscikit-learn==1.9.1\njoblib>=1.3\n")
    root = tmp_path / "registry"
    cli("registry", "--registry", root, "add", model, "--serializer", "pickle", "--requirements", requirements)
    shown = cli("registry", "--registry", root, "show", "latest").stdout
    assert "requirements:    scikit-learn==1.9.1 joblib>=1.3 (from requirements.txt)" in shown
    env = json.loads(cli("registry", "--registry", root, "show", "latest", "--json").stdout)["environment"]
    assert env["packages"] == {"scikit-learn": "1.9.1"}
    bad = cli("registry", "--registry", root, "add", model, "--requirements", tmp_path, check=False)
    assert bad.returncode == 2 and "is a directory, not a regular file" in bad.stderr
