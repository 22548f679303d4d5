"""/readyz latency while 8 clients post 1 MiB batches (1,000 texts of 1,000
characters) to /v1/predict, and how many batches they got through.
usage: python3 bench/readyz_load.py PORT SECONDS (a model-server on 127.0.0.1:PORT)"""
import http.client, json, statistics, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
text = ("a fine moving film with wonderful acting " * 25)[:1000]
body = json.dumps({"texts": [text] * 1000}).encode()
stop = time.time() + seconds
done = [0]
def hammer():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < stop:
        c.request("POST", "/v1/predict", body, {"Content-Type": "application/json"})
        r = c.getresponse(); r.read(); done[0] += 1
threads = [threading.Thread(target=hammer) for _ in range(8)]
for t in threads: t.start()
time.sleep(0.5)
lat = []
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
while time.time() < stop - 0.5:
    t0 = time.perf_counter(); c.request("GET", "/readyz"); r = c.getresponse(); r.read()
    lat.append((time.perf_counter() - t0) * 1000); time.sleep(0.05)
for t in threads: t.join()
lat.sort()
print(f"batches={done[0]} readyz n={len(lat)} median={statistics.median(lat):.2f}ms p99={lat[int(len(lat)*0.99)-1]:.2f}ms max={lat[-1]:.2f}ms body={len(body)}")
