"""The load generators the serving benchmarks use, run and parsed in one
place: wrk for throughput at saturation, oha for latency at a fixed rate."""
import json
import pathlib
import re
import shutil
import subprocess
import sys


def wrk(url: str, body: str, tmp: pathlib.Path, seconds: int, connections: int = 16) -> dict:
    """POSTs `body` (JSON) to `url` from 2 threads over `connections`
    keep-alive connections for `seconds`: requests/s, p50/p99 in ms and the
    count of non-2xx answers and socket errors."""
    script = tmp / f"post-{abs(hash((url, body)))}.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {
        "rps": rps,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def oha_binary() -> str:
    """oha on PATH or in ~/.cargo/bin, installed with `cargo install oha
    --locked` when absent (a few minutes, once)."""
    found = shutil.which("oha") or shutil.which(str(pathlib.Path.home() / ".cargo" / "bin" / "oha"))
    if found:
        return found
    print("installing oha (cargo install oha --locked) ...", file=sys.stderr)
    subprocess.run(["cargo", "install", "oha", "--locked", "-q"], check=True)
    return str(pathlib.Path.home() / ".cargo" / "bin" / "oha")


# What oha calls the requests still in flight when `-z` runs out: cut by
# the load generator, not failed by the server.
CUT = "aborted due to deadline"


def oha_fixed_rate(url: str, body: str | None, rate: int, seconds: int, connections: int = 16) -> dict:
    """POSTs `body` (a GET when None) to `url` at a fixed `rate` requests/s
    for `seconds`, with latency correction (a request's latency counts from
    when it was due, so a stalled server cannot hide its queue): achieved
    rate, p50/p99/p99.9 in ms, every answer that was not a 200 or error, and
    the requests oha cut at the deadline."""
    request = ["-m", "POST", "-T", "application/json", "-d", body] if body is not None else []
    out = subprocess.run(
        [oha_binary(), "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-q", str(rate),
         "--latency-correction", "-c", str(connections), *request, url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    report = json.loads(out)
    summary, latency = report["summary"], report["latencyPercentiles"]
    codes = report.get("statusCodeDistribution", {})
    errors = report.get("errorDistribution", {})
    failed = sum(n for code, n in codes.items() if code != "200") + sum(
        n for what, n in errors.items() if what != CUT)
    return {
        "cut": errors.get(CUT, 0),
        "rps": summary["requestsPerSec"],
        "p50_ms": latency["p50"] * 1000,
        "p99_ms": latency["p99"] * 1000,
        "p999_ms": latency["p99.9"] * 1000,
        "failed": failed,
        # Every request that ended, answered or not, except those cut.
        "ended": sum(codes.values()) + sum(n for what, n in errors.items() if what != CUT),
    }
