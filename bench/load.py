"""`deecho serve` under a long mixed load: issue 13's load target, measured.

    .venv/bin/python -m bench.load                      # 1,000 tasks from 20 clients, then eta
    .venv/bin/python -m bench.load --tasks 200 --eta-audio-s 600   # a shorter run

Against a real `deecho serve --workers 2` subprocess on loopback:
1. 20 client threads each send their share of the tasks, one at a time, of 1 to
   8 s (in turn): half as uploads, half as `audio_url` links to a file server the
   bench runs, every one with a webhook; each client polls byId every 0.5 s until
   its task ends, then sends the next. Every API call's latency is kept with the minute it fell in.
2. The server's resident memory is sampled against the number of tasks ended.
3. Eta honesty: 200 tiny tasks, then one long recording behind them; the long
   task's `eta` at submit is compared with the time it really took to complete.
Results go to bench/out/load.json and, with --write-readme, bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import requests
import soundfile as sf

from bench.server import API_KEY, OUT, README, Server, make_take

START_MARK = "<!-- load:start -->"
END_MARK = "<!-- load:end -->"
HEADERS = {"Authorization": API_KEY}


@dataclass
class Call:
    minute: int
    what: str  # submit-upload, submit-url, byId
    ms: float


@dataclass
class LoadResults:
    tasks: int
    clients: int
    workers: int
    cpu_count: int
    load_average_at_start: list[float]
    calls: list[Call] = field(default_factory=list)
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    lost: int = 0
    webhooks: int = 0
    wall_s: float = 0.0
    rss: list[tuple[int, float]] = field(default_factory=list)  # (tasks ended, server MB)
    eta_s: float = 0.0
    eta_actual_s: float = 0.0
    eta_audio_s: float = 0.0
    eta_upload_s: float = 0.0  # the long task's POST, before its answer (not in eta_actual_s)
    eta_queued_s: float = 0.0  # of eta_actual_s, until a worker took it (polled each second)
    eta_load_average: list[float] = field(default_factory=list)  # at the long task's submit
    eta_own_s: float = 0.0  # the long task's own estimate, as the server stored it
    eta_processing_s: float = 0.0  # what its worker measured
    pace: dict[str, Any] = field(default_factory=dict)  # the server's stage lines at the end
    pace_at_submit: dict[str, Any] = field(default_factory=dict)  # as the long task's eta saw them


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(np.ceil(q * len(ordered))) - 1))]


class _Files(http.server.ThreadingHTTPServer):
    """Serves the takes for `audio_url` tasks and counts the webhooks it is sent."""

    daemon_threads = True

    def __init__(self, takes: dict[str, bytes]) -> None:
        self.takes = takes
        self.webhooks = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = outer.takes[self.path.strip("/")]
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with outer.lock:
                    outer.webhooks += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _client(
    server: Server,
    files: _Files,
    takes: list[Path],
    count: int,
    first: int,
    started: float,
    results: LoadResults,
    lock: threading.Lock,
) -> None:
    session = requests.Session()
    for number in range(first, first + count):
        as_url = number % 2 == 1
        take = takes[(number // 2) % len(takes)]
        t0 = time.monotonic()
        data = {"webhook_url": f"{files.base}/hook"}
        if as_url:
            data["audio_url"] = f"{files.base}/{take.name}"
            answer = session.post(f"{server.base}/deecho", headers=HEADERS, data=data, timeout=60)
        else:
            with take.open("rb") as stream:
                answer = session.post(
                    f"{server.base}/deecho",
                    headers=HEADERS,
                    data=data,
                    files={"audio_file": stream},
                    timeout=60,
                )
        ms = (time.monotonic() - t0) * 1000
        with lock:
            minute = int((t0 - started) // 60)
            results.calls.append(Call(minute, "submit-url" if as_url else "submit-upload", ms))
        if answer.status_code != 200:
            continue
        with lock:
            results.accepted += 1
        task_id = answer.json()["task_id"]
        while True:
            time.sleep(0.5)
            t0 = time.monotonic()
            polled = session.get(
                f"{server.base}/byId",
                params={"conversionType": "DEECHO", "task_id": task_id},
                headers=HEADERS,
                timeout=60,
            )
            with lock:
                minute = int((t0 - started) // 60)
                results.calls.append(Call(minute, "byId", (time.monotonic() - t0) * 1000))
            if polled.status_code == 404:
                with lock:
                    results.lost += 1
                break
            status = polled.json()["conversion"]["status"]
            if status in ("COMPLETED", "FAILED", "ERROR"):
                with lock:
                    if status == "COMPLETED":
                        results.completed += 1
                    else:
                        results.failed += 1
                break


def _sample_memory(server: Server, results: LoadResults, stop: threading.Event) -> None:
    while not stop.is_set():
        ended = results.completed + results.failed + results.lost
        results.rss.append((ended, server.memory_mb()[0]))
        stop.wait(2.0)


def _eta(server: Server, folder: Path, tiny: Path, results: LoadResults, audio_s: float) -> None:
    long = folder / "long.wav"
    rate = 16000
    rng = np.random.default_rng(5)
    with sf.SoundFile(long, "w", rate, 1, subtype="PCM_16") as out:
        for _ in range(int(audio_s // 60)):
            block = make_take(
                folder / "minute.wav", 60.0, rate=rate, channels=1, seed=int(rng.integers(1e6))
            )
            out.write(sf.read(block, dtype="float32")[0])
    for _ in range(200):
        with tiny.open("rb") as stream:
            requests.post(
                f"{server.base}/deecho", headers=HEADERS, files={"audio_file": stream}, timeout=60
            ).raise_for_status()
    results.eta_load_average = list(os.getloadavg())
    posted = time.monotonic()
    with long.open("rb") as stream:
        answer = requests.post(
            f"{server.base}/deecho", headers=HEADERS, files={"audio_file": stream}, timeout=600
        )
    answer.raise_for_status()
    # The eta counts from its answer: the client cannot hold it before its upload is in.
    t0 = time.monotonic()
    results.eta_upload_s = t0 - posted
    results.eta_s = float(answer.json()["eta"])
    results.pace_at_submit = _read_pace(folder / "data" / "tasks.sqlite3")
    task_id = answer.json()["task_id"]
    while True:
        time.sleep(1.0)
        polled = requests.get(
            f"{server.base}/byId",
            params={"conversionType": "DEECHO", "task_id": task_id},
            headers=HEADERS,
            timeout=60,
        ).json()["conversion"]
        if polled["status"] != "IN_QUEUE" and not results.eta_queued_s:
            results.eta_queued_s = time.monotonic() - t0
        if polled["status"] in ("COMPLETED", "FAILED", "ERROR"):
            break
    results.eta_actual_s = time.monotonic() - t0
    results.eta_audio_s = audio_s
    _read_estimates(folder / "data" / "tasks.sqlite3", task_id, results)


def _read_pace(database: Path) -> dict[str, Any]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        pace = db.execute("SELECT value FROM meta WHERE key = 'pace'").fetchone()
    return json.loads(pace[0]) if pace else {}


def _read_estimates(database: Path, task_id: str, results: LoadResults) -> None:
    """Split the eta into the task's own part and the queue's: the server's own records."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        own, processing = db.execute(
            "SELECT estimate_s, processing_s FROM tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
    results.eta_own_s = float(own or 0.0)
    results.eta_processing_s = float(processing or 0.0)
    results.pace = _read_pace(database)


def run(args: argparse.Namespace) -> LoadResults:
    results = LoadResults(
        tasks=args.tasks,
        clients=args.clients,
        workers=args.workers,
        cpu_count=os.cpu_count() or 1,
        load_average_at_start=list(os.getloadavg()),
    )
    with tempfile.TemporaryDirectory(prefix="deecho-load-") as temp:
        folder = Path(temp)
        takes = [
            make_take(folder / f"take-{seconds:g}s.wav", seconds, rate=16000, channels=1)
            for seconds in args.seconds
        ]
        files = _Files({take.name: take.read_bytes() for take in takes})
        threading.Thread(target=files.serve_forever, daemon=True).start()
        server = Server(folder, args.workers)
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_memory, args=(server, results, stop))
        try:
            sampler.start()
            lock = threading.Lock()
            started = time.monotonic()
            share = args.tasks // args.clients
            clients = [
                threading.Thread(
                    target=_client,
                    args=(server, files, takes, share, i * share, started, results, lock),
                )
                for i in range(args.clients)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            results.wall_s = time.monotonic() - started
            time.sleep(3.0)  # the last webhooks
            results.webhooks = files.webhooks
            stop.set()
            sampler.join()
            if args.eta_audio_s > 0:
                _eta(server, folder, takes[0], results, args.eta_audio_s)
        finally:
            stop.set()
            server.stop()
            files.shutdown()
    return results


def summary(results: LoadResults) -> dict[str, Any]:
    by_minute: dict[int, list[float]] = defaultdict(list)
    for call in results.calls:
        by_minute[call.minute].append(call.ms)
    api = [call.ms for call in results.calls]
    ended = results.accepted
    quarter = next((mb for done, mb in results.rss if done >= ended // 4), results.rss[0][1])
    return {
        "api_calls": len(api),
        "api_p50_ms": statistics.median(api),
        "api_p95_ms": _p(api, 0.95),
        "api_p99_ms": _p(api, 0.99),
        "worst_minute_p99_ms": max(_p(values, 0.99) for values in by_minute.values()),
        "minutes": len(by_minute),
        "submit_p99_ms": _p([c.ms for c in results.calls if c.what != "byId"], 0.99),
        "by_id_p99_ms": _p([c.ms for c in results.calls if c.what == "byId"], 0.99),
        "server_mb_at_quarter": quarter,
        "server_mb_at_end": results.rss[-1][1],
        "server_mb_peak": max(mb for _, mb in results.rss),
        "eta_error": (
            (results.eta_s - results.eta_actual_s) / results.eta_actual_s
            if results.eta_actual_s
            else None
        ),
    }


def readme_section(results: LoadResults, figures: dict[str, Any]) -> str:
    eta = (
        f"| eta of {results.eta_audio_s / 60:.0f} min of audio behind 200 tiny tasks: "
        f"said / took from the answer | {results.eta_s:.0f} s / {results.eta_actual_s:.0f} s "
        f"({figures['eta_error']:+.0%}; its own part {results.eta_own_s:.0f} s / "
        f"{results.eta_processing_s:.0f} s; queued {results.eta_queued_s:.0f} s; upload "
        f"{results.eta_upload_s:.0f} s before the answer; load "
        f"{results.eta_load_average[0] if results.eta_load_average else 0:.1f}) | within 30 % |\n"
        if figures["eta_error"] is not None
        else ""
    )
    return (
        f"{START_MARK}\n"
        f"`python -m bench.load --tasks {results.tasks}`: `deecho serve --workers "
        f"{results.workers}` as a subprocess; {results.clients} clients sending takes of 1, 2, 4 "
        f"and 8 s in turn, half uploads and "
        f"half `audio_url` links, every task with a webhook, each client polling byId every "
        f"0.5 s until its task ends. Machine: {results.cpu_count} cores, load average "
        f"{results.load_average_at_start[0]:.1f} at the start (shared with other work).\n\n"
        "| measure | figure | target |\n|---|---|---|\n"
        f"| tasks accepted / completed / failed / lost | {results.accepted} / "
        f"{results.completed} / {results.failed} / {results.lost} | none lost |\n"
        f"| webhooks received | {results.webhooks} | one per task |\n"
        f"| API calls: p50 / p95 / p99 | {figures['api_p50_ms']:.0f} / "
        f"{figures['api_p95_ms']:.0f} / {figures['api_p99_ms']:.0f} ms "
        f"({figures['api_calls']} calls) | p99 < 500 ms |\n"
        f"| worst minute's p99 ({figures['minutes']} minutes) | "
        f"{figures['worst_minute_p99_ms']:.0f} ms | < 500 ms throughout |\n"
        f"| submit p99 / byId p99 | {figures['submit_p99_ms']:.0f} / "
        f"{figures['by_id_p99_ms']:.0f} ms | |\n"
        f"| server RSS at a quarter → end (peak) | {figures['server_mb_at_quarter']:.0f} → "
        f"{figures['server_mb_at_end']:.0f} MB ({figures['server_mb_peak']:.0f}) | flat |\n"
        f"{eta}"
        f"| wall time of the mixed load | {results.wall_s:.0f} s | |\n"
        f"{END_MARK}"
    )


def write_readme(section: str) -> None:
    text = README.read_text()
    if START_MARK in text:
        head, rest = text.split(START_MARK, 1)
        text = head + section + rest.split(END_MARK, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Server under a long mixed load (`bench/load.py`)\n\n"
        text += section + "\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--seconds",
        type=float,
        nargs="+",
        default=[1.0, 2.0, 4.0, 8.0],
        help="lengths of the takes the clients send, in turn (the eta run's tiny ones: the first)",
    )
    parser.add_argument("--eta-audio-s", type=float, default=3600.0, help="0 skips the eta run")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    results = run(args)
    figures = summary(results)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(
        json.dumps({"figures": figures, "results": asdict(results)}, indent=1)
    )
    print(json.dumps(figures, indent=1))
    section = readme_section(results, figures)
    print(section)
    if args.write_readme:
        write_readme(section)


if __name__ == "__main__":
    main()
