"""Under load, on loopback only: 200 requests from 8 concurrent clients all succeed, the server keeps
answering /healthz meanwhile, and its memory does not grow by more than a small bound.
Run with -s to see the latencies."""
import json
import statistics
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REQUESTS, CLIENTS, TIME_LIMIT_S, MEMORY_BOUND_MIB = 200, 8, 180, 64


def rss_mib():
    """Resident memory of this process, which runs the server in a thread."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2 ** 20


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"} if data else {})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
        return response.status, payload, time.perf_counter() - t0


def test_200_requests_from_8_clients(live_server):
    url = f"{live_server}/api/generate"
    bodies = [{"form": "wujue", "acrostic": "春花秋月", "seed": i} if i % 2 else {"start": "月", "max_len": 24, "seed": i}
              for i in range(REQUESTS)]
    for body in bodies[:16]:                                              # warm-up: first-call allocations
        call(url, body)
    before = rss_mib()
    deadline = time.monotonic() + TIME_LIMIT_S
    health, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            health.append(call(f"{live_server}/healthz")[2])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(CLIENTS) as clients:
        results = list(clients.map(lambda b: call(url, b) if time.monotonic() < deadline else (None, None, None), bodies))
    stop.set()
    watcher.join()
    grown = rss_mib() - before

    assert [status for status, _, _ in results] == [200] * REQUESTS
    assert all(len(payload["poems"]) == 1 for _, payload, _ in results)
    latencies = sorted(seconds for _, _, seconds in results)
    p50, p95 = statistics.median(latencies), latencies[int(0.95 * REQUESTS) - 1]
    print(f"\n{REQUESTS} requests, {CLIENTS} clients: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms; /healthz while loaded: max {max(health) * 1000:.0f} ms "
          f"({len(health)} calls); memory growth {grown:.1f} MiB")
    assert max(health) < 1.0                                              # the event loop stayed free
    assert grown < MEMORY_BOUND_MIB
