#!/usr/bin/env python3
"""The Python package against the seed's joblib directory and MLflow, in one
run: `just bench-python` (or `python3 bench/python_api.py`).

Sets up bench/python/.venv-python (scikit-learn, joblib, MLflow, maturin) on
first use, installs the package from crates/modelreg-py into it (the README's
command), and runs bench/python/api_bench.py there, which prints a Markdown
table. The test suite never needs any of it.
"""
import pathlib
import subprocess
import sys

from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    py = venv_python(ROOT / "bench" / "python" / ".venv-python", ROOT / "bench" / "python" / "requirements-python.txt")
    subprocess.run([py, "-m", "pip", "install", "-q", str(ROOT / "crates" / "modelreg-py")], check=True)
    subprocess.run([py, str(ROOT / "bench" / "python" / "api_bench.py"), *sys.argv[1:]], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
