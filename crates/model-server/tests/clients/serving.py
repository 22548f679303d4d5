"""A model-server on a free 127.0.0.1 port for the client tests, from the
debug builds in MODELREG_BIN_DIR."""

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(os.environ.get("MODELREG_BIN_DIR", ROOT / "target" / "debug"))


def run(*args: str) -> None:
    """Runs one of the built tools (trainer, registry, ...), checked."""
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True, capture_output=True)


@contextmanager
def model_server(registry: Path, *args: str) -> Iterator[str]:
    """Serves `registry` with `args` (the --serve options) until the block
    ends; yields host:port once /v2/health/ready answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(BIN / "model-server"), "--registry", str(registry), "--listen", f"127.0.0.1:{port}", *args],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
                assert time.time() < deadline, "model-server did not become ready"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
