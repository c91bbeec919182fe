"""How soon the workspace shows a long file's waveform (target: 10-minute stereo within 1 s).

    .venv/bin/python -m bench.tui_overview            # 10-minute stereo, 48 kHz, 16-bit WAV
    .venv/bin/python -m bench.tui_overview --hour     # also a 60-minute stereo file
    .venv/bin/python -m bench.tui_overview --write-readme

Three figures per file, each the median of a few runs (the file in the page cache, as
right after an editor saved it):
- `overview`: `deecho.overview.overview_of_file` alone (read, decimate, min/max);
- `first frame`: from `DeechoApp` asked to open the file (headless, 120x40) to the
  first frame the waveform widget draws (a partial one for long files);
- `complete`: to the first frame drawn from the complete overview: worker start,
  file read, message back and the render included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

README = Path(__file__).with_name("README.md")
START, END = "<!-- tui:start -->", "<!-- tui:end -->"


def make_file(path: Path, minutes: float, rate: int = 48000) -> Path:
    """Stereo speech-band noise bursts, written in chunks so memory stays small."""
    rng = np.random.default_rng(7)
    chunk = rate * 10
    with sf.SoundFile(str(path), "w", rate, 2, subtype="PCM_16") as out:
        for start in range(0, int(minutes * 60 * rate), chunk):
            t = (start + np.arange(chunk)) / rate
            envelope = 0.5 + 0.5 * np.sin(2 * np.pi * t / 3.0) ** 2
            noise = rng.standard_normal((chunk, 2)).astype(np.float32) * 0.1
            out.write(noise * envelope[:, None].astype(np.float32))
    return path


def time_overview(path: Path) -> float:
    from deecho.overview import overview_of_file

    began = time.perf_counter()
    overview = overview_of_file(path)
    assert overview is not None and overview.complete
    return time.perf_counter() - began


async def _time_in_app(path: Path, data_dir: Path) -> float:
    from deecho.config import Settings
    from deecho.history import History
    from deecho.tui.app import DeechoApp
    from deecho.tui.waveform import Waveform
    from deecho.tui.workspace import WorkspaceScreen

    app = DeechoApp(None, settings=Settings(), history=History(data_dir), start_dir=path.parent)
    async with app.run_test(size=(120, 40)) as pilot:
        from deecho.tui.picker import FilePicker

        while not isinstance(app.screen, FilePicker):  # no file given: the picker comes up
            await pilot.pause()
        await pilot.press("escape")  # we open by path, as `deecho tui FILE` does
        screen = app.screen
        assert isinstance(screen, WorkspaceScreen)
        wave = screen.query_one(Waveform)
        drawn: list[float] = []
        first: list[float] = []
        render = wave.render

        def timed_render() -> Any:
            # The moments that count: the first frame with any waveform (a long file is
            # drawn as it is read), and the first frame from the complete overview.
            result = render()
            if wave.overview is not None and not first:
                first.append(time.perf_counter())
            if wave.overview is not None and wave.overview.complete and not drawn:
                drawn.append(time.perf_counter())
            return result

        wave.render = timed_render  # type: ignore[method-assign]
        began = time.perf_counter()
        screen.open_file(path)
        while not drawn:
            await asyncio.sleep(0.002)
        app.exit()
    return first[0] - began, drawn[0] - began


def time_in_app(path: Path, data_dir: Path) -> tuple[float, float]:
    return asyncio.run(_time_in_app(path, data_dir))


def measure(path: Path, runs: int, data_dir: Path) -> dict[str, float]:
    time_overview(path)  # warm the page cache
    overview = statistics.median(time_overview(path) for _ in range(runs))
    in_app = [time_in_app(path, data_dir) for _ in range(runs)]
    return {
        "overview_s": overview,
        "first_frame_s": statistics.median(first for first, _ in in_app),
        "in_app_s": statistics.median(complete for _, complete in in_app),
        "load": os.getloadavg()[0],
    }


def write_readme(rows: list[tuple[str, dict[str, float]]]) -> None:
    lines = [
        START,
        "## Workspace: time to show a waveform",
        "",
        "`python -m bench.tui_overview [--hour]`: seconds from asking the workspace to",
        "open a file to the first frame showing its waveform (long files are drawn as",
        "they are read) and to the frame drawn from the complete overview (headless",
        "app, 120x40), and the overview computation alone; medians of 3 runs, file in",
        "the page cache. Target: a 10-minute stereo file within 1 s. The load column is",
        "the machine's 1-minute load average at the end of the row (2 cores, shared).",
        "",
        "| file | overview alone | first frame | complete waveform | target | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in rows:
        target = "≤ 1 s" if name.startswith("10 min") else "–"
        lines.append(
            f"| {name} | {figures['overview_s']:.2f} s | {figures['first_frame_s']:.2f} s"
            f" | {figures['in_app_s']:.2f} s | {target} | {figures['load']:.1f} |"
        )
    lines.append(END)
    block = "\n".join(lines)
    text = README.read_text() if README.exists() else ""
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hour", action="store_true", help="also time a 60-minute file")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    cases = [("10 min stereo 48 kHz 16-bit WAV", 10.0)]
    if args.hour:
        cases.append(("60 min stereo 48 kHz 16-bit WAV", 60.0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="deecho-bench-tui-") as folder:
        for name, minutes in cases:
            path = make_file(Path(folder) / f"{int(minutes)}min.wav", minutes)
            figures = measure(path, args.runs, Path(folder) / "data")
            rows.append((name, figures))
            print(
                f"{name}: overview {figures['overview_s']:.3f} s, first frame"
                f" {figures['first_frame_s']:.3f} s, complete {figures['in_app_s']:.3f} s"
                f" (load {figures['load']:.1f})"
            )
            path.unlink()
    if args.write_readme:
        write_readme(rows)


if __name__ == "__main__":
    main()
