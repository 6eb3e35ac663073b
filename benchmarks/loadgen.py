"""A small closed-loop HTTP load generator: threads, one keep-alive connection each.

    python benchmarks/loadgen.py http://127.0.0.1:8000 paths.txt --concurrency 8 --duration 10

Each of `concurrency` threads sends its next request as soon as the previous answer has been
read in full, so the load is `concurrency` requests in flight. Requests take the paths in order
from one shared list (cycling), so two servers given the same list get the same requests. A run
stops at `duration` seconds or `max_requests` requests, whichever comes first; a request still
in flight at the deadline is allowed to finish (at most `timeout` seconds). Only 127.0.0.1 /
localhost targets are accepted.

Latency is measured per request, from just before sending to the last byte of the body, and
includes reconnecting when the server closed the connection (gunicorn's sync workers close
after every answer; uvicorn keeps it open).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class _Worker:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    bytes_read: int = 0
    first_error: str | None = None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def run(
    base_url: str,
    paths: list[str],
    concurrency: int,
    duration: float,
    max_requests: int,
    timeout: float = 30.0,
    keep_latencies: bool = False,
) -> dict:
    """Send requests for `duration` s or `max_requests` requests; return counts and latencies
    (each one too, in s, if `keep_latencies`)."""
    parts = urlsplit(base_url)
    if parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"load is only sent to this machine, not {parts.hostname}")
    if not paths or concurrency < 1 or duration <= 0 or max_requests < 1:
        raise ValueError("need paths, concurrency >= 1, duration > 0 and max_requests >= 1")
    host, port = parts.hostname, parts.port or 80
    tickets = itertools.count()  # next() on it is atomic under the GIL
    workers = [_Worker() for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)
    clock: dict[str, float] = {}

    def work(state: _Worker) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        start_line.wait()
        deadline = clock["deadline"]
        try:
            while time.perf_counter() < deadline:
                ticket = next(tickets)
                if ticket >= max_requests:
                    break
                path = paths[ticket % len(paths)]
                began = time.perf_counter()
                try:
                    connection.request("GET", path, headers={"Accept": "application/geo+json"})
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as error:
                    state.errors += 1
                    state.first_error = state.first_error or f"{path}: {error!r}"
                    connection.close()
                    continue
                state.latencies.append(time.perf_counter() - began)
                state.statuses[response.status] = state.statuses.get(response.status, 0) + 1
                state.bytes_read += len(body)
                if response.status != 200:
                    state.errors += 1
                    state.first_error = state.first_error or f"{path}: HTTP {response.status}"
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    clock["deadline"] = time.perf_counter() + duration
    started = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join(duration + timeout + 5)
    elapsed = time.perf_counter() - started

    latencies = sorted(x for w in workers for x in w.latencies)
    statuses: dict[int, int] = {}
    for w in workers:
        for status, n in w.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    ok = statuses.get(200, 0)
    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": sum(w.errors for w in workers),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "first_error": next((w.first_error for w in workers if w.first_error), None),
        "seconds": elapsed,
        "rps": ok / elapsed if elapsed > 0 else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "mean_bytes": sum(w.bytes_read for w in workers) / max(len(latencies), 1),
        **({"latencies": latencies} if keep_latencies else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:8000")
    parser.add_argument("paths", type=Path, help="file with one request path per line")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds, at most")
    parser.add_argument("--max-requests", type=int, default=2000)
    args = parser.parse_args()
    paths = [line for line in args.paths.read_text().splitlines() if line.strip()]
    result = run(args.base_url, paths, args.concurrency, args.duration, args.max_requests)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
