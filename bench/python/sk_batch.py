"""Batch throughput: pipeline.predict on every line of a file, in process
(model loading excluded). Prints one JSON line."""
import json, sys, time

import joblib

model = joblib.load(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    lines = f.read().splitlines()
start = time.perf_counter()
labels = model.predict(lines)
seconds = time.perf_counter() - start
print(json.dumps({"sentences": len(lines), "seconds": seconds, "per_second": len(lines) / seconds,
                  "positive": int((labels == "positive").sum())}))
