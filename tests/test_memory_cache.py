"""The per-process caches: least recently used out first, one maker per key at a time."""

from __future__ import annotations

import threading
import time

import pytest

from geo_service.memory_cache import MemoryCache, latest_kept


def test_the_least_recently_used_goes_first_beyond_the_budget():
    cache = MemoryCache(300, len, entry_bytes=0)
    for key in "abc":
        cache.put(key, b"x" * 100)
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("d", b"x" * 100)
    assert cache.get("b") is None
    assert [cache.get(k) is not None for k in "acd"] == [True, True, True]
    cache.put("huge", b"x" * 301)  # larger than the whole budget: not kept
    assert cache.get("huge") is None and cache.bytes == 300


class HeldMaker:
    """A maker that, once called, holds until released, then gives `outcome` (or raises it)."""

    def __init__(self, outcome) -> None:
        self.outcome = outcome
        self.calls = 0
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self):
        self.calls += 1
        self.started.set()
        self.release.wait(10)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_callers_asking_together_wait_for_one_maker():
    cache = latest_kept(8)
    make = HeldMaker({"value": 1})
    found = []
    first = threading.Thread(target=lambda: found.append(cache.get_or_make("k", make)))
    first.start()
    assert make.started.wait(10)
    others = [
        threading.Thread(target=lambda: found.append(cache.get_or_make("k", make)))
        for _ in range(3)
    ]
    for thread in others:
        thread.start()
    time.sleep(0.3)  # the others ask while the first is making (without waiting, they make too)
    make.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert make.calls == 1
    assert found == [{"value": 1}] * 4 and all(f is found[0] for f in found)


def test_a_failed_make_reaches_the_waiters_and_keeps_nothing():
    cache = latest_kept(8)
    fail = HeldMaker(ValueError("the database went away"))
    errors = []

    def ask():
        try:
            cache.get_or_make("k", fail)
        except ValueError as error:
            errors.append(str(error))

    first = threading.Thread(target=ask)
    first.start()
    assert fail.started.wait(10)
    waiter = threading.Thread(target=ask)
    waiter.start()
    time.sleep(0.3)
    fail.release.set()
    first.join(10)
    waiter.join(10)
    assert errors == ["the database went away"] * 2 and fail.calls == 1
    assert cache.get("k") is None
    assert cache.get_or_make("k", lambda: 2) == 2  # the next caller makes it afresh
    with pytest.raises(ZeroDivisionError):
        cache.get_or_make("other", lambda: 1 / 0)


def test_a_value_being_made_is_waited_for_only_when_asked_to():
    cache = latest_kept(8)
    make = HeldMaker("made")
    maker = threading.Thread(target=lambda: cache.get_or_make("k", make))
    maker.start()
    assert make.started.wait(10)
    assert cache.get("k") is None  # not kept yet, and not waited for
    found = []
    waiter = threading.Thread(target=lambda: found.append(cache.get("k", wait=True)))
    waiter.start()
    time.sleep(0.3)
    assert found == []  # still waiting for the maker
    make.release.set()
    maker.join(10)
    waiter.join(10)
    assert found == ["made"]
    assert cache.get("absent", wait=True) is None
