"""The Python side of the benchmarks lives in virtualenvs under bench/python/,
created and filled on first use, so the test suite never needs Python."""
import pathlib
import subprocess
import sys


def venv_python(venv: pathlib.Path, requirements: pathlib.Path) -> str:
    """The interpreter of `venv`, created with `requirements` installed if absent."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"setting up {venv} ({requirements.name}) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    return str(py)
