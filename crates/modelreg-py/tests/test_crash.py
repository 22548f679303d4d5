"""Saves from Python are all or nothing: a writer killed at any instant
leaves a registry that verifies, and every save it reported loads with its
own model; concurrent writers (threads and processes) never share a
version."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import modelreg

WRITER = """
import sys, modelreg
reg = modelreg.Registry(sys.argv[1], model="crash")
i = int(sys.argv[2])
while True:
    md = reg.save_model(model={"i": i, "pad": "x" * 200_000}, bump="patch", metadata={"metrics": {"i": i}})
    print(md["version"], i, flush=True)
    i += 1
"""


def writer(root, start):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(start)], stdout=subprocess.PIPE, text=True
    )


def test_killed_writers_leave_a_registry_that_verifies(tmp_path):
    root = tmp_path / "registry"
    reg = modelreg.Registry(root, model="crash")
    rng = random.Random(7)
    reported = {}
    for round_ in range(6):
        procs = [writer(root, 1000 * (2 * round_ + k)) for k in range(2)]
        time.sleep(rng.uniform(0.3, 0.9))
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
        for p in procs:
            out, _ = p.communicate(timeout=30)
            for line in out.splitlines():
                version, i = line.split()
                assert version not in reported, f"{version} reported by two writers"
                reported[version] = int(i)
        report = reg.verify()
        assert report["ok"], report["problems"]
        listed = set(reg.list_versions())
        assert set(reported) <= listed
        for version, i in reported.items():
            model, metadata = reg.get_model(version)
            assert model["i"] == i and metadata["metrics"]["i"] == i
    assert len(reported) > 6, "the writers never got a save done"
    assert reg.save_model(model="after", bump="major")["version"]


def test_threads_save_concurrently_without_sharing_a_version(reg):
    saved = []
    errors = []

    def save(worker):
        try:
            for i in range(10):
                md = reg.save_model(model=(worker, i), bump="patch")
                saved.append((md["version"], (worker, i)))
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=save, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({v for v, _ in saved}) == 40
    for version, model in saved:
        assert reg.get_model(version)[0] == model
    assert reg.verify()["ok"]
