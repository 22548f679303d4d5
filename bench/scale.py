#!/usr/bin/env python3
"""How training cost grows with the data: `just bench-scale` (or
`python3 bench/scale.py [FACTORS...]`, default 1 4 16).

For each factor, a corpus of FACTOR x the bundled Rotten Tomatoes snippets
(the first copy as it is, the rest seeded recombinations: `cargo run
--release -p textclf --example corpus`), then the release trainer on it
with the full grid and with the default search (successive halving from
20,000 training rows). Prints rows, seconds, peak memory (the child's
maximum resident set, wait4) and test accuracy, one Markdown row each.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def peak_rss_run(cmd):
    """(seconds, peak MB, stdout) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{cmd} failed:\n{err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def main():
    factors = [int(f) for f in sys.argv[1:]] or [1, 4, 16]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "textclf", "--example", "corpus"], check=True, cwd=ROOT)
    trainer = ROOT / "target" / "release" / "trainer"
    corpus = ROOT / "target" / "release" / "examples" / "corpus"
    print("| data | rows | search | seconds | peak MB | test accuracy | rounds (rows × candidates) |")
    print("|---|---:|---|---:|---:|---:|---|")
    base = {}
    for factor in factors:
        data = ROOT / "bench" / f"corpus-{factor}.tsv"
        if factor == 1:
            data = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"
        elif not data.exists():
            subprocess.run([str(corpus), str(factor), str(data)], check=True)
        rows = sum(1 for _ in open(data, encoding="utf-8")) - 1
        for search in ("full", "auto"):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, mb, out = peak_rss_run(
                    [str(trainer), "--data", str(data), "--registry", f"{tmp}/r", "--search", search, "--json", "--quiet"]
                )
                summary = json.loads(out)
                metadata = json.loads(
                    subprocess.run(
                        [str(ROOT / "target" / "release" / "registry"), "--registry", f"{tmp}/r", "--json", "show", "latest"],
                        capture_output=True, check=True, text=True,
                    ).stdout
                ) if (ROOT / "target" / "release" / "registry").exists() else {}
            plan = metadata.get("metrics", {}).get("search", {})
            rounds = ", ".join(f"{r['rows']:,} × {r['candidates']}" for r in plan.get("rounds", []))
            base.setdefault(search, (rows, seconds, mb))
            r0, s0, m0 = base[search]
            print(
                f"| {factor}× | {rows:,} | {search} | {seconds:.1f} ({seconds / s0:.1f}×) | {mb:.0f} ({mb / m0:.1f}×) "
                f"| {summary['test_score']:.4f} | {plan.get('strategy', '?')}: {rounds} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
