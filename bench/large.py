#!/usr/bin/env python3
"""Large files: `just bench-large` (or `python3 bench/large.py [GIB...]`,
default 1 3 8; `--no-s3` skips the S3 part; `--repeat=N` rounds of the
local commands, default 3, each row the median).

For each size, one file of random bytes, then in one run:
- `cp` + `sync` of it (the anchor: what copying the bytes durably costs;
  cp copies in the kernel), and `dd bs=4M conv=fsync` (the same through a
  process's memory, as anything that digests the bytes must);
- `registry add`, `registry get --out`, `registry verify` on a local
  registry (each durable: add and get fsync what they write);
then, on the local S3 server (moto, `.ci/s3-test-server`), a 1 GiB file:
- `registry add` to and `registry get` from an s3:// registry, against
  boto3's `upload_file` / `download_file` (its default multipart transfer)
  on the same server;
- `registry get` of that version again with the local cache filled against
  one with `--no-cache`.

Before each command: `sync`, and (as root, unless `--warm`) the page
cache is dropped, so each one reads its input from disk and writes into
memory nobody has touched, as a multi-GB file added hours ago would be;
the header says which.

Every row: seconds, the ratio to its anchor, and peak memory (the
command's maximum resident set, from GNU time: `apt-get install time`). Work files live under
target/bench-large/ (same filesystem as the registry), deleted as it goes:
the 8 GiB run needs about 3 x 8 GiB free.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-large"
REGISTRY = ROOT / "target" / "release" / "registry"
GIB = 1 << 30
DROP_CACHES = pathlib.Path("/proc/sys/vm/drop_caches")
# `--warm` keeps the page cache between commands (the runs before
# 2026-12-07); without it, and where we may (root), each command starts cold.
COLD = "--warm" not in sys.argv and os.access(DROP_CACHES, os.W_OK)


def run(cmd, env=None):
    """(seconds, peak MB) of one child, which must succeed. Dirty pages of
    the step before are written out first (`sync`), so no step pays for
    another's writeback; peak memory is GNU time's maximum resident set of
    the command itself (wait4 from here would count the forked Python)."""
    os.sync()
    if COLD:
        # Every command starts with nothing cached, as a multi-GB file
        # added hours ago would: it reads its source from disk, and its
        # output takes pages nobody touched. With caches kept, whichever
        # step holds the third copy in memory pays for pages the VM has
        # not backed yet (on this Firecracker guest a cp's system time
        # went 0.3 s, 1.5 s, 2.7 s for three 1 GiB copies in a row), so
        # the order of the steps decided the ratios.
        DROP_CACHES.write_text("3\n")
    peak = WORK / "peak.txt"
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(peak)] + cmd,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{proc.stderr.decode(errors='replace')}")
    return wall, int(peak.read_text().split()[-1]) / 1024


def make_file(path, size):
    block = 16 << 20
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(block, left)
            f.write(os.urandom(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())


def local(sizes, repeat):
    """Each size: the five commands in turn, `repeat` rounds of them
    (interleaved, so a slow spell of the shared disk hits every command
    alike); each row the median seconds, the median of the round-by-round
    ratios to `cp`, and the highest peak."""
    print(f"page cache: {'dropped before each command' if COLD else 'kept between commands'}")
    print("| command | size | seconds | vs anchor | peak MB |")
    print("|---|---:|---:|---:|---:|")
    for gib in sizes:
        src = WORK / f"model-{gib}g.bin"
        make_file(src, gib * GIB)
        copy = WORK / "copy.bin"
        reg = WORK / "registry"
        out = WORK / "out.bin"
        base = [str(REGISTRY), "--registry", str(reg)]
        rounds = {k: [] for k in ("cp", "dd", "add", "get", "verify")}
        for _ in range(repeat):
            rounds["cp"].append(run(["sh", "-c", f'cp "{src}" "{copy}" && sync "{copy}"']))
            copy.unlink()
            # cp copies in the kernel (copy_file_range); a program that reads
            # what it writes (to digest it) pays for the copies through its
            # own memory, as dd does: the second anchor.
            rounds["dd"].append(run(["dd", f"if={src}", f"of={copy}", "bs=4M", "conv=fsync", "status=none"]))
            copy.unlink()
            shutil.rmtree(reg, ignore_errors=True)
            rounds["add"].append(run(base + ["add", str(src), "--type", "bench"]))
            rounds["get"].append(run(base + ["get", "latest", "--out", str(out)]))
            out.unlink()
            rounds["verify"].append(run(base + ["verify"]))
            shutil.rmtree(reg)
        names = {
            "cp": "`cp` + `sync` (anchor)",
            "dd": "`dd bs=4M conv=fsync` (read/write anchor)",
            "add": "`registry add`",
            "get": "`registry get --out`",
            "verify": "`registry verify`",
        }
        for k, name in names.items():
            seconds = median([s for s, _ in rounds[k]])
            # The ratio of each round to the cp of that round, then the
            # median: the disk's speed drifts between rounds.
            ratio = median([s / c for (s, _), (c, _) in zip(rounds[k], rounds["cp"])])
            peak = max(mb for _, mb in rounds[k])
            shown = "1×" if k == "cp" else f"{ratio:.2f}×"
            print(f"| {name} | {gib} GiB | {seconds:.2f} | {shown} | {peak:.0f} |", flush=True)
        src.unlink()


def median(values):
    """The median; of an even count, the smaller middle one."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def s3():
    env_lines = subprocess.run(
        ["bash", "-c", f'eval "$({ROOT}/.ci/s3-test-server)" >/dev/null && env'],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    env = dict(os.environ)
    for line in env_lines:
        key, _, value = line.partition("=")
        if key.startswith(("AWS_", "MODELREG_S3")):
            env[key] = value
    endpoint = env["MODELREG_S3_TEST_ENDPOINT"]
    bucket = env["MODELREG_S3_TEST_BUCKET"]
    python = pathlib.Path.home() / ".cache" / "modelreg" / "moto-venv" / "bin" / "python"
    env["MODELREG_S3_ENDPOINT"] = endpoint
    env["MODELREG_CACHE"] = str(WORK / "cache")
    shutil.rmtree(WORK / "cache", ignore_errors=True)
    src = WORK / "model-1g.bin"
    make_file(src, GIB)
    prefix = f"bench-large-{os.getpid()}"
    boto = (
        "import boto3, sys; c = boto3.client('s3', endpoint_url=sys.argv[1]);"
        " getattr(c, sys.argv[2])(*sys.argv[3:])"
    )
    up_s, up_mb = run([str(python), "-c", boto, endpoint, "upload_file", str(src), bucket, f"{prefix}-boto/model.bin"], env)
    out = WORK / "out.bin"
    down_s, down_mb = run([str(python), "-c", boto, endpoint, "download_file", bucket, f"{prefix}-boto/model.bin", str(out)], env)
    out.unlink()
    print()
    print("| S3 (moto), 1 GiB | seconds | vs anchor | peak MB |")
    print("|---|---:|---:|---:|")
    print(f"| boto3 `upload_file` (anchor) | {up_s:.2f} | 1× | {up_mb:.0f} |")
    base = [str(REGISTRY), "--registry", f"s3://{bucket}/{prefix}"]
    s, mb = run(base + ["add", str(src), "--type", "bench"], env)
    print(f"| `registry add` to s3:// | {s:.2f} | {s / up_s:.2f}× | {mb:.0f} |")
    print(f"| boto3 `download_file` (anchor) | {down_s:.2f} | 1× | {down_mb:.0f} |")
    s, mb = run(base + ["--no-cache", "get", "1.0.0", "--out", str(out)], env)
    out.unlink()
    print(f"| `registry get --no-cache` from s3:// | {s:.2f} | {s / down_s:.2f}× | {mb:.0f} |")
    uncached = s
    s, mb = run(base + ["get", "1.0.0", "--out", str(out)], env)
    out.unlink()
    print(f"| `registry get`, cache empty (fills it) | {s:.2f} | {s / down_s:.2f}× | {mb:.0f} |")
    s, mb = run(base + ["get", "1.0.0", "--out", str(out)], env)
    out.unlink()
    print(f"| `registry get`, cached | {s:.2f} | {s / uncached:.2f}× of uncached | {mb:.0f} |")
    src.unlink()
    shutil.rmtree(WORK / "cache", ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sizes = [int(a) for a in args] or [1, 3, 8]
    repeat = next((int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--repeat=")), 3)
    # The set the other benches build, so this is not a second release build.
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "registry-cli", "-p", "model-server", "-p", "predictor"],
        check=True, cwd=ROOT,
    )
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        local(sizes, repeat)
        if "--no-s3" not in sys.argv:
            s3()
    finally:
        for leftover in WORK.glob("*.bin"):
            leftover.unlink()
        shutil.rmtree(WORK / "registry", ignore_errors=True)


if __name__ == "__main__":
    main()
