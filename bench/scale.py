#!/usr/bin/env python3
"""How training cost grows with the data: `just bench-scale` (or
`python3 bench/scale.py [--real-only | --corpus-only] [FACTORS...]`).

Two curves, each in one run, release build:

1. Real data, growing in rows and in vocabulary: the Rotten Tomatoes
   snippets (RT), RT + the UCI sentences, and RT + UCI + the CrowdFlower
   tweets (`../shared/data/crowdflower_tweets.tsv`, or MODELREG_SHARED_DATA:
   for measurement only, so it is read from there and never copied into
   the project; the combined files live in a temporary directory). For
   each: the trainer with the full grid and with the default search, and
   scikit-learn's GridSearchCV over the seed's grid (`bench/python/
   sk_train.py`, n_jobs=2, installed into bench/python/.venv on first use).
2. The recombined corpus (default factors 1 4 16): FACTOR x the bundled
   snippets, the first copy as it is, the rest seeded recombinations
   (`cargo run --release -p textclf --example corpus`). It barely grows
   its vocabulary, which is why the real curve exists.

Every row: rows, seconds (and the ratio to the first row of its kind),
peak memory (the summed resident set of the process tree, sampled every
0.1 s: scikit-learn's workers are processes) and test accuracy.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
SHARED = pathlib.Path(os.environ.get("MODELREG_SHARED_DATA", ROOT.parent / "shared" / "data"))


def tree_rss_kb(pid):
    """The summed VmRSS of `pid` and every descendant, in kB."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measured(cmd):
    """(seconds, peak MB of the process tree, stdout) of one run."""
    start = time.perf_counter()
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.1)
    wall = time.perf_counter() - start
    out.seek(0)
    err.seek(0)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{err.read().decode(errors='replace')}")
    return wall, peak / 1024, out.read().decode()


def trainer(data, search):
    """(seconds, peak MB, test accuracy, the search's rounds) of the trainer."""
    with tempfile.TemporaryDirectory() as tmp:
        seconds, mb, out = measured(
            [str(RELEASE / "trainer"), "--data", str(data), "--registry", f"{tmp}/r", "--search", search, "--json", "--quiet"]
        )
        summary = json.loads(out)
        metadata = json.loads(
            subprocess.run(
                [str(RELEASE / "registry"), "--registry", f"{tmp}/r", "--json", "show", "latest"],
                capture_output=True, check=True, text=True,
            ).stdout
        )
    plan = metadata.get("metrics", {}).get("search", {})
    rounds = ", ".join(f"{r['rows']:,} × {r['candidates']}" for r in plan.get("rounds", []))
    return seconds, mb, summary["test_score"], f"{plan.get('strategy', '?')}: {rounds}"


def sklearn(python, data):
    with tempfile.TemporaryDirectory() as tmp:
        seconds, mb, out = measured(
            [python, str(ROOT / "bench" / "python" / "sk_train.py"), "--data", str(data), "--out", f"{tmp}/m.joblib"]
        )
    return seconds, mb, json.loads(out)["test_score"], "GridSearchCV, seed's grid"


def rows_of(path):
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def concatenated(paths, out):
    """`paths` (TSV with a `label\\ttext` header each) as one file."""
    with open(out, "w", encoding="utf-8") as o:
        for i, p in enumerate(paths):
            with open(p, encoding="utf-8") as f:
                lines = f.readlines()
            o.writelines(lines if i == 0 else lines[1:])
    return out


def row(name, rows, who, result, base):
    seconds, mb, test, how = result
    s0, m0 = base.setdefault(who, (seconds, mb))
    print(
        f"| {name} | {rows:,} | {who} | {seconds:.2f} ({seconds / s0:.1f}×) | {mb:.0f} ({mb / m0:.1f}×) | {test:.4f} | {how} |",
        flush=True,
    )


def real_curve():
    tweets = SHARED / "crowdflower_tweets.tsv"
    if not tweets.exists():
        print(f"(real curve skipped: {tweets} is not there; set MODELREG_SHARED_DATA)")
        return
    python = venv_python(ROOT / "bench" / "python" / ".venv", ROOT / "bench" / "python" / "requirements.txt")
    rt = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"
    uci = ROOT / "fixtures" / "uci_sentiment_sentences.tsv"
    print("| data | rows | who | seconds | peak MB | test accuracy | search |")
    print("|---|---:|---|---:|---:|---:|---|")
    base = {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = [
            ("RT", rt),
            ("RT + UCI", concatenated([rt, uci], f"{tmp}/rt_uci.tsv")),
            ("RT + UCI + tweets", concatenated([rt, uci, tweets], f"{tmp}/three.tsv")),
        ]
        for name, data in sets:
            n = rows_of(data)
            row(name, n, "modelreg, full grid", trainer(data, "full"), base)
            row(name, n, "**modelreg, default**", trainer(data, "auto"), base)
            row(name, n, "scikit-learn", sklearn(python, data), base)


def corpus_curve(factors):
    corpus = RELEASE / "examples" / "corpus"
    print("| data | rows | who | seconds | peak MB | test accuracy | search |")
    print("|---|---:|---|---:|---:|---:|---|")
    base = {}
    for factor in factors:
        data = ROOT / "bench" / f"corpus-{factor}.tsv"
        if factor == 1:
            data = ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv"
        elif not data.exists():
            subprocess.run([str(corpus), str(factor), str(data)], check=True)
        n = rows_of(data)
        row(f"{factor}×", n, "modelreg, full grid", trainer(data, "full"), base)
        row(f"{factor}×", n, "**modelreg, default**", trainer(data, "auto"), base)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    factors = [int(f) for f in args] or [1, 4, 16]
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "registry-cli", "-p", "textclf", "--example", "corpus"],
        check=True, cwd=ROOT,
    )
    if "--corpus-only" not in sys.argv:
        real_curve()
    if "--real-only" not in sys.argv:
        corpus_curve(factors)


if __name__ == "__main__":
    main()
