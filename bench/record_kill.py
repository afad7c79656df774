"""One kill -9 round for bench/record_durability.sh: C keep-alive streaming clients with
20 KB prompts send calls through `asb record` (PROXY) to the zero-delay mock while every
core is kept busy by spinning processes; after SECONDS the recorder is killed with
SIGKILL. Prints one JSON object: calls the clients had finished, those not on disk, the
age at the kill of the oldest missing one, the calls lost that had finished more than
BOUND_MS before the kill (the promise: 0), and whether any line but the last is torn.

    python3 bench/record_kill.py PROXY_PID PROXY_URL RECORDING SECONDS CLIENTS BOUND_MS
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

pid, url, recording = int(sys.argv[1]), sys.argv[2], sys.argv[3]
seconds, clients, bound_ms = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
host, port = url.removeprefix("http://").split(":")

stop = threading.Event()
finished = {}
lock = threading.Lock()


def client(n):
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    i = 0
    while not stop.is_set():
        marker = f"client {n:03d} call {i:06d}"
        body = json.dumps({"model": "m", "max_tokens": 8, "stream": True,
                           "messages": [{"role": "user", "content": marker + " " + "z" * 20_000}]})
        try:
            conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            return
        with lock:
            finished[marker] = time.monotonic()
        i += 1


burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
try:
    for t in threads:
        t.start()
    time.sleep(seconds)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(30)
finally:
    for b in burners:
        b.kill()

raw = open(recording, "rb").read().split(b"\n")
last = raw.pop()
on_disk, torn_inside = set(), 0
for line in raw:
    try:
        content = json.loads(line)["messages"][-1]["content"]
        on_disk.add(content.split(" z")[0])
    except (ValueError, KeyError, IndexError):
        torn_inside += 1
with lock:
    missing = [killed_at - t for m, t in finished.items() if m not in on_disk]
    lost = [age for age in missing if age * 1000 > bound_ms]
print(json.dumps({
    "finished": len(finished),
    "not_on_disk": len(missing),
    "oldest_missing_ms": round(max(missing, default=0) * 1000, 1),
    "lost_beyond_bound": len(lost),
    "torn_lines_inside": torn_inside,
    "torn_last_line": bool(last),
}))
