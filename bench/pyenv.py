"""The Python side of the benchmarks lives in virtualenvs under bench/python/,
created and filled on first use, so the test suite never needs Python."""
import hashlib
import pathlib
import subprocess
import sys


def venv_python(venv: pathlib.Path, requirements: pathlib.Path) -> str:
    """The interpreter of `venv`, created if absent and (re)filled whenever
    `requirements` differs from what it was last filled from."""
    py = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not py.exists():
        print(f"setting up {venv} ({requirements.name}) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
        stamp.write_text(wanted)
    return str(py)
