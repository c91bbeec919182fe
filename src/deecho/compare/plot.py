"""The picture of a comparison: one PNG an engineer reads at a glance.

Imported only when a picture is asked for (matplotlib is slow to import), and
drawn on a bare Agg canvas, never pyplot, so it is safe in threads and servers.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from deecho.compare.metrics import FLOOR_DB
from deecho.compare.result import CompareResult
from deecho.compare.running import LOWEST_HZ

_FREQUENCY_TICKS_HZ = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
_ORIGINAL = "#1f5fa8"
_PROCESSED = "#e07b10"
_RESIDUAL = "#c0282d"


def _describe(result: CompareResult) -> str:
    summary = result.residual_summary()
    lines = [
        f"offset   {result.offset_samples:+.3f} samples ({result.offset_ms:+.3f} ms)",
        f"drift    {result.drift_ppm:+.2f} ppm",
        f"gain     {result.gain_db:+.3f} dB"
        + ("   polarity INVERTED" if result.polarity < 0 else ""),
        f"null     {result.residual_db:.1f} dB   corr {result.correlation:.6f}",
        *_shared_line(result),
        f"SI-SDR   {result.si_sdr_db:.1f} dB",
        f"removed  {result.energy_removed_db:+.2f} dB of energy",
        f"overlap  {result.overlap_s:.2f} s at {result.sample_rate} Hz",
    ]
    if summary.worst_db is not None and summary.worst_at_s is not None:
        lines.append(f"worst    {summary.worst_db:.1f} dB at {summary.worst_at_s:.1f} s")
    if result.echoes_before is not None and result.echoes_after is not None:
        lines.append(f"echoes   {_echo_delays(result.echoes_before)}")
        lines.append(f"      -> {_echo_delays(result.echoes_after)}")
    if result.rt60_before_s is not None or result.rt60_after_s is not None:
        lines.append(
            f"RT60     {_seconds(result.rt60_before_s)} -> {_seconds(result.rt60_after_s)}"
        )
    return "\n".join(lines)


def _shared_line(result: CompareResult) -> list[str]:
    if result.residual_shared_band_db is None or result.shared_band_hz is None:
        return []
    return [f"  0-{result.shared_band_hz / 1000:.1f} kHz {result.residual_shared_band_db:.1f} dB"]


def _echo_delays(echoes: list[dict[str, Any]], most: int = 3) -> str:
    """The strongest few echoes as 'delay ms (gain)'."""
    if not echoes:
        return "none"
    strongest = sorted(echoes, key=lambda echo: -abs(float(echo.get("gain") or 0.0)))[:most]
    text = ", ".join(
        f"{float(e.get('delay_ms') or 0):.0f} ms ({float(e.get('gain') or 0):.2f})"
        for e in strongest
    )
    return text + (f" +{len(echoes) - most}" if len(echoes) > most else "")


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def draw(result: CompareResult, title: str = "") -> Any:
    """The comparison as a matplotlib Figure (Agg canvas attached)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A fixed layout: constrained layout would double the drawing time on long takes.
    figure = Figure(figsize=(16, 15), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(
        5,
        3,
        height_ratios=[1.1, 0.8, 0.9, 1.3, 1.1],
        left=0.06,
        right=0.97,
        top=0.94,
        bottom=0.05,
        hspace=0.45,
        wspace=0.3,
    )
    figure.suptitle(title or "deecho compare", fontsize=15, fontweight="bold")
    rate = result.sample_rate
    start_s = result.overlap_start_s
    picture = result.picture
    if picture is None:
        raise ValueError("this comparison kept no picture; compare again with picture=True")

    waves = figure.add_subplot(grid[0, :])
    seconds = start_s + picture.columns / rate
    low, high = picture.original_low, picture.original_high
    waves.fill_between(seconds, low, high, color=_ORIGINAL, alpha=0.55, lw=0, label="original")
    p_low, p_high = picture.processed_low, picture.processed_high
    waves.plot(seconds, p_high, color=_PROCESSED, lw=0.7, label="processed, aligned, gain-matched")
    waves.plot(seconds, p_low, color=_PROCESSED, lw=0.7)
    waves.set_title("Waveforms overlaid (envelope per pixel)", loc="left")
    waves.set_ylabel("amplitude")
    waves.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=9, ncol=2, frameon=False)
    waves.margins(x=0)

    diff = figure.add_subplot(grid[1, :], sharex=waves)
    diff.fill_between(
        seconds, picture.difference_low, picture.difference_high, color=_RESIDUAL, lw=0
    )
    peak = picture.difference_peak
    peak_db = 20 * math.log10(peak) if peak > 0 else FLOOR_DB
    diff.set_title(
        f"Difference: original − processed/gain (own scale; peak {peak_db:.1f} dBFS)", loc="left"
    )
    diff.set_ylabel("amplitude")
    diff.margins(x=0)

    over = figure.add_subplot(grid[2, :], sharex=waves)
    if result.over_time is not None and len(result.over_time.times_s):
        times = start_s + result.over_time.times_s
        over.step(
            times,
            result.over_time.residual_db,
            where="mid",
            color=_RESIDUAL,
            lw=1.4,
            label="null depth per 400 ms",
        )
        over.plot(
            times,
            result.over_time.original_dbfs,
            color=_ORIGINAL,
            lw=0.8,
            alpha=0.7,
            label="original level (dBFS)",
        )
    over.axhline(
        result.residual_db,
        color="black",
        ls="--",
        lw=0.9,
        label=f"overall {result.residual_db:.1f} dB",
    )
    over.set_title("Residual over time", loc="left")
    over.set_ylabel("dB")
    over.set_xlabel("time in the original (s)")
    over.grid(alpha=0.3)
    over.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=9, ncol=3, frameon=False)

    spectra = [
        ("Original", picture.original_levels),
        ("Processed (aligned)", picture.processed_levels),
        ("Difference", picture.difference_levels),
    ]
    reference = picture.original_levels
    top = float(np.percentile(reference, 99.5)) if reference.size else 0.0
    image = None
    log_low, log_high = math.log10(LOWEST_HZ), math.log10(rate / 2)
    spectrum_axes = []
    times = picture.spectrum_times_s
    for column, (name, levels) in enumerate(spectra):
        axes = figure.add_subplot(grid[3, column])
        spectrum_axes.append(axes)
        span = (
            (start_s + times[0], start_s + times[-1]) if len(times) > 1 else (start_s, start_s + 1)
        )
        image = axes.imshow(
            levels,
            origin="lower",
            aspect="auto",
            cmap="magma",
            vmin=top - 90,
            vmax=top,
            extent=(float(span[0]), float(span[1]), log_low, log_high),
            interpolation="nearest",
        )
        ticks = [f for f in _FREQUENCY_TICKS_HZ if LOWEST_HZ <= f <= rate / 2]
        axes.set_yticks(
            [math.log10(f) for f in ticks],
            [f"{f:g}" if f < 1000 else f"{f // 1000:g}k" for f in ticks],
        )
        axes.set_title(f"{name} spectrogram", loc="left")
        axes.set_xlabel("time (s)")
        if column == 0:
            axes.set_ylabel("frequency (Hz)")
    if image is not None:
        figure.colorbar(image, ax=spectrum_axes, label="dBFS", shrink=0.9, pad=0.01)

    bands = figure.add_subplot(grid[4, 0])
    labels = [f"{b.center_hz:g}" for b in result.octave_bands]
    positions = np.arange(len(labels))
    bands.bar(
        positions - 0.2,
        [b.difference_db for b in result.octave_bands],
        0.4,
        color=_PROCESSED,
        label="level change",
    )
    bands.bar(
        positions + 0.2,
        [max(b.residual_db, -120) for b in result.octave_bands],
        0.4,
        color=_RESIDUAL,
        alpha=0.7,
        label="null depth",
    )
    bands.set_xticks(positions, labels, fontsize=8)
    bands.axhline(0, color="black", lw=0.6)
    bands.set_title("Per octave band (dB)", loc="left")
    bands.set_xlabel("band centre (Hz)")
    bands.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncol=2, frameon=False)
    bands.grid(axis="y", alpha=0.3)

    lags = figure.add_subplot(grid[4, 1])
    if len(result.lag_times_s):
        lags.plot(
            result.lag_times_s,
            result.lag_samples,
            "o",
            ms=4,
            color=_ORIGINAL,
            label="measured lag per window",
        )
        fit = result.offset_samples + result.drift_ppm * 1e-6 * result.lag_times_s * rate
        lags.plot(
            result.lag_times_s, fit, color="black", lw=1, label=f"fit: {result.drift_ppm:+.2f} ppm"
        )
        lags.legend(fontsize=8)
    lags.set_title("Lag of processed behind original", loc="left")
    lags.set_xlabel("time in the original (s)")
    lags.set_ylabel("samples")
    lags.grid(alpha=0.3)
    if len(result.lag_samples) and np.ptp(result.lag_samples) < 1.0:
        # No drift: a one-sample window, not a zoom into estimation noise.
        middle = float(np.median(result.lag_samples))
        lags.set_ylim(middle - 0.5, middle + 0.5)
    lags.ticklabel_format(useOffset=False)

    text = figure.add_subplot(grid[4, 2])
    text.axis("off")
    body = _describe(result)
    if result.notes:
        body += "\n\n" + "\n".join(f"• {note}" for note in result.notes)
    text.text(
        0.0,
        1.0,
        body,
        va="top",
        ha="left",
        family="monospace",
        fontsize=10,
        transform=text.transAxes,
        wrap=True,
    )
    return figure


def save_png(result: CompareResult, path: Path, title: str = "") -> None:
    """Draw the comparison and write it to `path` atomically (temp file, then rename)."""
    figure = draw(result, title)
    directory = path.parent if str(path.parent) else Path(".")
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png")
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
