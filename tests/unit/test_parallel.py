"""run_ahead: a streaming stage in a thread of its own, a few blocks ahead."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from deecho.engine.parallel import run_ahead


def test_items_come_in_order_and_all_of_them() -> None:
    assert list(run_ahead(iter(range(1000)), depth=3)) == list(range(1000))


def test_an_empty_stage_yields_nothing() -> None:
    assert list(run_ahead(iter([]))) == []


def test_the_producer_runs_in_another_thread_at_most_depth_ahead() -> None:
    produced: list[int] = []
    threads: set[str] = set()

    def stage() -> Iterator[int]:
        for index in range(10):
            threads.add(threading.current_thread().name)
            produced.append(index)
            yield index

    items = run_ahead(stage(), depth=2)
    assert next(items) == 0
    time.sleep(0.3)  # give the producer time to run as far ahead as it may
    # item 0 taken, two waiting in the hand-off, one held by the blocked producer
    assert len(produced) <= 4
    assert list(items) == list(range(1, 10))
    assert threads == {"deecho-ahead"}


def test_an_error_in_the_stage_is_raised_in_the_consumer() -> None:
    def stage() -> Iterator[int]:
        yield 1
        raise ValueError("expected 2 channels, got 3")

    items = run_ahead(stage())
    assert next(items) == 1
    with pytest.raises(ValueError, match="expected 2 channels"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    closed = threading.Event()

    def stage() -> Iterator[int]:
        try:
            index = 0
            while True:
                yield index
                index += 1
        finally:
            closed.set()

    before = threading.active_count()
    items = run_ahead(stage(), depth=2)
    assert next(items) == 0
    items.close()  # what a cancelled job does to the pipeline
    assert closed.is_set()
    assert threading.active_count() == before
    assert not any(thread.name == "deecho-ahead" for thread in threading.enumerate())
