"""The engine's work on two cores: per-channel analysis side by side, streaming stages
overlapped.

Most of the engine's time goes to FFTs and array arithmetic that release the GIL, so
threads share the cores without copying the audio to other processes:

- `each_at_once`: a stereo file's channels are searched for echoes, and fitted with their
  reverb filters, each in its own thread (the echo search on a 3-minute stereo file's
  excerpts: 0.85-0.91 s one after the other, 0.46-0.66 s side by side);
- `run_ahead`: the streaming pass is echo cancellation, then late-reverb suppression; the
  echo stage works on the next block while the reverb stage works on this one (the
  same file's streaming pass: 1.7-1.8 s in series, 1.3-1.4 s overlapped).

Results are identical to running one after the other: each thread works on its own data.
Never nest them: each thread's arrays are alive at once, so peak memory grows with the
threads (the DRR's two reads side by side, each fitting its two channels side by side,
took a 3-minute stereo run's peak from 480 to 910 MB for no time gained).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["each_at_once", "run_ahead"]

T = TypeVar("T")
R = TypeVar("R")


def each_at_once(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[work(item) for item in items], the items in threads of their own (one per core)."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(workers, thread_name_prefix="deecho-channel") as pool:
        return list(pool.map(work, items))


_POLL_S = 0.05  # how often a blocked producer looks whether the consumer has gone


def run_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Yield `items`, produced in a worker thread at most `depth` ahead of the consumer.

    An exception in the producer is raised in the consumer. Closing the returned
    generator early (the consumer was cancelled or failed) stops the producer after the
    item it is working on, and waits for it: nothing is left running.
    """
    handoff: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    source = iter(items)

    def produce() -> None:
        try:
            for item in source:
                if not put(("item", item)):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            put(("error", error))
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # a generator's own clean-up (an open file) runs now, here
        put(("done", None))

    worker = threading.Thread(target=produce, name="deecho-ahead", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "done":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
