"""`registry serve` on a free 127.0.0.1 port for the mlflow tests, from the
debug builds in MODELREG_BIN_DIR."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(os.environ.get("MODELREG_BIN_DIR", ROOT / "target" / "debug"))
FLOW = Path(__file__).resolve().parent / "flow.py"


def registry(reg: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the `registry` CLI on `reg`."""
    return subprocess.run(
        [str(BIN / "registry"), "--registry", str(reg), *args], check=check, capture_output=True, text=True
    )


def registry_json(reg: Path, *args: str):
    return json.loads(registry(reg, "--json", *args).stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, what: str, seconds: float) -> None:
    """Returns once `url`/health answers; fails if `proc` exits first or
    `seconds` pass."""
    deadline = time.time() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else f"{what} exited"
            assert time.time() < deadline, f"{what} did not answer"
            time.sleep(0.05)


@contextmanager
def serve(reg: Path, *args: str) -> Iterator[str]:
    """`registry serve` on `reg` until the block ends; yields its URL once
    it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "registry"), "--registry", str(reg), "serve", "--listen", f"127.0.0.1:{port}", *args],
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc, "registry serve", 30)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run_flow(url: str, **env: str) -> dict:
    """flow.py against `url` with this interpreter's mlflow; its report."""
    out = subprocess.run(
        [sys.executable, str(FLOW)],
        env={**os.environ, "MLFLOW_TRACKING_URI": url, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
