"""Shared fixtures: a fresh registry per test (pytest's tmp_path), the
workspace's command-line tools, the bundled data."""

import os
import pathlib
import subprocess

import pytest

import modelreg

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures"


def _bin_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("MODELREG_BIN_DIR", ROOT / "target" / "debug"))


@pytest.fixture
def reg(tmp_path):
    return modelreg.Registry(tmp_path / "registry")


@pytest.fixture
def cli():
    """Runs a workspace binary (registry, trainer, predictor) and returns
    the finished process; the binaries come from `cargo build` (or
    MODELREG_BIN_DIR)."""
    bins = _bin_dir()
    missing = [b for b in ("registry", "trainer", "predictor") if not (bins / b).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} not built in {bins}: run `cargo build --workspace` first")

    def run(binary, *args, check=True, env=None):
        done = subprocess.run(
            [str(bins / binary), *map(str, args)],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{binary} {' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
        return done

    return run


def read_tsv(name, limit=None):
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()[1:]
    rows = [line.split("\t", 1) for line in lines[:limit]]
    return [r[1] for r in rows], [r[0] for r in rows]
