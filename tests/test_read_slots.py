"""Pages, features and tiles are each read a few at a time per worker
(`GEO_SERVICE_READ_THREADS`), each kind in slots of its own, and slow work (exports) beside
them in the thread pool."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from geo_service.app import create_app

from .conftest import Backend

T = TypeVar("T")
LAYER = "industrial_zones"
PAGE = f"/collections/{LAYER}/items?limit=2"


class Reads:
    """Counts the store reads in progress; each waits for `release` (or `pause` seconds)."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.lock = threading.Lock()
        self.now = self.most = self.started = 0
        self.release = threading.Event()
        if pause:
            self.release.set()

    def around(self, read: Callable) -> Callable:
        def counted(*args, **kwargs):
            with self.lock:
                self.now += 1
                self.started += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(self.pause)
                assert self.release.wait(30), "never released"
                return read(*args, **kwargs)
            finally:
                with self.lock:
                    self.now -= 1

        return counted


class Probe:
    """A store whose `name` reads go through `reads`."""

    def __init__(self, store, name: str, reads: Reads) -> None:
        self.store = store
        setattr(self, name, reads.around(getattr(store, name)))

    def __getattr__(self, name: str):
        return getattr(self.store, name)


@contextlib.contextmanager
def app_with(
    sample_dir: Path, backend: Backend, name: str, reads: Reads, threads: int
) -> Iterator[FastAPI]:
    """The sample's app over a `Probe` store, which is closed afterwards."""
    store = Probe(backend.store(sample_dir), name, reads)
    try:
        yield create_app(backend.settings(sample_dir, read_threads=threads), store=store)
    finally:
        store.dispose()


def run_alone(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: a browser test's Playwright keeps an event loop
    running in the test thread for the session."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize("threads", [1, 3])
def test_pages_are_read_at_most_read_threads_at_a_time(sample_dir, backend, threads):
    reads = Reads(pause=0.05)

    async def eight_pages(app: FastAPI) -> list[httpx.Response]:
        async with client_of(app) as client:
            return await asyncio.gather(*(client.get(PAGE) for _ in range(8)))

    with app_with(sample_dir, backend, "geojson_page", reads, threads) as app:
        answers = run_alone(eight_pages(app))
    assert [a.status_code for a in answers] == [200] * 8
    assert all(len(a.json()["features"]) == 2 for a in answers)
    assert reads.started == 8
    assert reads.most == threads


def test_a_read_holds_up_reads_of_its_kind_alone(sample_dir, backend):
    reads = Reads()

    async def scenario(app: FastAPI) -> None:
        async with client_of(app) as client:
            (first,) = (await client.get(PAGE)).json()["features"][:1]
            one = f"/collections/{LAYER}/items/{first['id']}"
            held = asyncio.create_task(client.get(one))
            while reads.started == 0:
                await asyncio.sleep(0.01)
            waiting = asyncio.create_task(client.get(one))
            others = [
                asyncio.create_task(client.get(path))
                for path in (
                    f"/collections/{LAYER}/tiles/WebMercatorQuad/5/25/14",
                    f"/collections/{LAYER}/items?f=csv",
                    PAGE,
                )
            ]
            try:
                await asyncio.wait(others, timeout=20)
                assert all(task.done() for task in others), "a tile, an export or a page waited"
                assert not held.done() and not waiting.done()
                assert reads.started == 1, "a second read started while the first held its slot"
            finally:
                reads.release.set()
            tile, export, page = (task.result() for task in others)
            assert tile.status_code in (200, 204)
            assert page.status_code == 200 and len(page.json()["features"]) == 2
            assert export.status_code == 200 and export.text.count("\n") > 1
            answers = await asyncio.gather(held, waiting)
            assert [a.json()["id"] for a in answers] == [first["id"]] * 2
            assert reads.most == 1

    with app_with(sample_dir, backend, "feature", reads, threads=1) as app:
        run_alone(scenario(app))
