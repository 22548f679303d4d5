"""The registry people build by hand: one directory per version with a
joblib file and a metadata.json. Saves N versions of a model, lists them
(reading every metadata.json, as a `list` command must to show scores) and
loads each one. Prints one JSON line with the seconds of each phase."""
import json, os, sys, time

import joblib

model = joblib.load(sys.argv[1])
n = int(sys.argv[2])
root = sys.argv[3]
start = time.perf_counter()
for i in range(n):
    d = os.path.join(root, f"1.{i // 1000}.{i % 1000}")
    os.makedirs(d)
    joblib.dump(model, os.path.join(d, "model.joblib"))
    with open(os.path.join(d, "metadata.json"), "w") as f:
        json.dump({"version": f"1.{i // 1000}.{i % 1000}", "test_score": 0.79, "hyperparameters": {"c": 0.1}}, f)
save = time.perf_counter() - start
start = time.perf_counter()
versions = []
for name in os.listdir(root):
    with open(os.path.join(root, name, "metadata.json")) as f:
        versions.append(json.load(f)["version"])
lst = time.perf_counter() - start
start = time.perf_counter()
for v in versions:
    joblib.load(os.path.join(root, v, "model.joblib"))
load = time.perf_counter() - start
print(json.dumps({"versions": len(versions), "save_seconds": save, "list_seconds": lst, "load_seconds": load}))
