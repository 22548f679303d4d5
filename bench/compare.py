#!/usr/bin/env python3
"""modelreg against the scikit-learn + joblib workflow, on the bundled data,
on this machine, in one run: `just bench-compare` (or `python3 bench/compare.py`).

Every measurement is repeated (BENCH_RUNS, default 5) and reported as the
median with the spread [min-max]; peak memory is the child's maximum resident
set size (wait4). The Python side lives in bench/python/ and is installed into
bench/python/.venv on first use; the test suite never needs it.
"""
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from pyenv import venv_python

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / "python" / ".venv"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DATASETS = {
    "rotten_tomatoes": ROOT / "fixtures" / "rotten_tomatoes_snippets.tsv",
    "uci": ROOT / "fixtures" / "uci_sentiment_sentences.tsv",
}
TEXT = "an unexpectedly moving film with a great cast"


def python():
    return venv_python(VENV, ROOT / "bench" / "python" / "requirements.txt")


def run(cmd, stdin_path=None, env=None):
    """(wall seconds, peak RSS in MB, stdout) of one run of `cmd`."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if stdin_path:
        stdin.close()
    if status != 0:
        raise RuntimeError(f"{cmd} failed:\n{err.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024, out.decode()


def repeat(make_cmd, runs=RUNS, stdin_path=None):
    results = [run(make_cmd(i), stdin_path) for i in range(runs)]
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


def med(xs):
    return statistics.median(xs)


def spread(xs, unit="s", scale=1.0, digits=3):
    return f"{med(xs) * scale:.{digits}f} {unit} [{min(xs) * scale:.{digits}f}-{max(xs) * scale:.{digits}f}]"


def machine():
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def main():
    py = python()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "trainer", "-p", "predictor"], cwd=ROOT, check=True)
    trainer = str(ROOT / "target" / "release" / "trainer")
    predictor = str(ROOT / "target" / "release" / "predictor")
    bench_py = ROOT / "bench" / "python"
    work = pathlib.Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
    rows = []
    print(f"machine: {machine()}; {RUNS} runs per measurement\n")

    for name, data in DATASETS.items():
        # Training: modelreg's default grid, modelreg on scikit-learn's grid, GridSearchCV.
        ours_t, ours_m, ours_out = repeat(
            lambda i: [trainer, "--data", str(data), "--registry", str(work / f"{name}-reg-{i}"), "--json"]
        )
        same_t, same_m, same_out = repeat(
            lambda i: [trainer, "--data", str(data), "--registry", str(work / f"{name}-ref-{i}"), "--json",
                       "--grid", str(ROOT / "fixtures" / "grids" / "sklearn-reference.toml")]
        )
        sk_t, sk_m, sk_out = repeat(
            lambda i: [py, str(bench_py / "sk_train.py"), "--data", str(data), "--out", str(work / f"{name}.joblib")]
        )
        ours = json.loads(ours_out[0])
        same = json.loads(same_out[0])
        sk = json.loads(sk_out[0])
        rows.append((f"{name}: training, wall", spread(ours_t), spread(sk_t), med(sk_t) / med(ours_t)))
        rows.append((f"{name}: training, same grid as sklearn, wall", spread(same_t), spread(sk_t), med(sk_t) / med(same_t)))
        rows.append((f"{name}: training, peak memory", spread(ours_m, "MB", digits=0), spread(sk_m, "MB", digits=0), med(sk_m) / med(ours_m)))
        rows.append((f"{name}: CV accuracy (default / same grid)", f"{ours['cv_score']:.4f} / {same['cv_score']:.4f}", f"{sk['cv_score']:.4f}", None))
        rows.append((f"{name}: test accuracy (default / same grid)", f"{ours['test_score']:.4f} / {same['test_score']:.4f}", f"{sk['test_score']:.4f}", None))

        # Cold start: one process per prediction, model load included.
        registry = str(work / f"{name}-reg-0")
        cold_ours, _, _ = repeat(lambda i: [predictor, "--registry", registry, TEXT], runs=max(RUNS, 20))
        cold_sk, _, _ = repeat(lambda i: [py, str(bench_py / "predict.py"), str(work / f"{name}.joblib"), TEXT])
        rows.append((f"{name}: cold-start predict, one process", spread(cold_ours, "ms", 1000, 1), spread(cold_sk, "ms", 1000, 0), med(cold_sk) / med(cold_ours)))

        # Batch: 100,000 sentences of this dataset.
        texts = [line.split("\t", 1)[1] for line in data.read_text(encoding="utf-8").splitlines()[1:]]
        batch = work / f"{name}-batch.txt"
        batch.write_text("\n".join((texts * (100_000 // len(texts) + 1))[:100_000]) + "\n", encoding="utf-8")
        b_ours, _, _ = repeat(lambda i: [predictor, "--registry", registry], stdin_path=str(batch))
        b_sk = [json.loads(out)["per_second"] for out in repeat(lambda i: [py, str(bench_py / "sk_batch.py"), str(work / f"{name}.joblib"), str(batch)])[2]]
        ours_rate = [100_000 / t for t in b_ours]
        rows.append((f"{name}: batch, sentences/s (ours: whole process via stdin; sklearn: predict() in process)",
                     spread(ours_rate, "/s", 1, 0), spread(b_sk, "/s", 1, 0), med(ours_rate) / med(b_sk)))

    # Registry: 1,000 versions of the Rotten Tomatoes model, saved, listed and
    # loaded; ours fsyncs every write and checks every checksum, the
    # hand-made joblib + JSON directory does neither.
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "registry-core", "--example", "registry_timing"],
                   cwd=ROOT, check=True)
    timing = str(ROOT / "target" / "release" / "examples" / "registry_timing")
    model_file = next((work / "rotten_tomatoes-reg-0" / "versions").glob("*/model.bin"))
    ours_reg = [json.loads(out) for out in repeat(
        lambda i: [timing, str(model_file), "1000", str(work / f"reg1000-{i}")], runs=min(RUNS, 3))[2]]
    sk_reg = [json.loads(out) for out in repeat(
        lambda i: [py, str(bench_py / "registry_joblib.py"), str(work / "rotten_tomatoes.joblib"), "1000",
                   str(work / f"joblib1000-{i}")], runs=min(RUNS, 3))[2]]
    for phase in ["save", "list", "load"]:
        a = [r[f"{phase}_seconds"] for r in ours_reg]
        b = [r[f"{phase}_seconds"] for r in sk_reg]
        rows.append((f"registry, 1,000 versions: {phase} all", spread(a), spread(b), med(b) / med(a)))

    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'modelreg':<28}  {'scikit-learn':<28}  ratio")
    for label, a, b, ratio in rows:
        r = f"{ratio:.1f}x" if ratio is not None else ""
        print(f"{label:<{width}}  {a:<28}  {b:<28}  {r}")
    print("\n(ratio: how many times modelreg is faster or lighter)")
    if os.environ.get("BENCH_KEEP"):
        print(f"work files kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)  # ~8 GB: 1,000-version registries


if __name__ == "__main__":
    main()
