"""Null-test figures accumulated block by block: memory does not grow with length.

The residual is original − processed/g for the least-squares gain g of the whole
overlap, which is known only at the end. Each block is therefore differenced with
the gain measured so far (g_k), and sums are kept from which the residual at any g
follows exactly: with d_k = o − a/g_k, o − a/g = d_k + (1/g_k − 1/g)·a, so
|o − a/g|² = |d_k|² + 2c·⟨d_k, a⟩ + c²·|a|² with c = 1/g_k − 1/g. The running gain
settles within the first blocks, so c is tiny and a deep null keeps its precision.
Spectra (octave bands, the shared band) use the same identity per frequency bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from deecho.compare import metrics
from deecho.compare.figures import OctaveBand

#: Frames of the long-term spectra: at least this many (spread over the overlap) ...
MIN_PSD_FRAMES = 256
#: ... and on long takes one frame for every this many frames' length.
PSD_FRAME_SPACING = 8
PSD_SEGMENT = 1 << 14
#: A take's band ends where less than this fraction of its energy lies above.
BAND_TAIL = 1e-7
#: Columns of the picture's waveform envelopes and spectrograms: about one per pixel.
PICTURE_COLUMNS = 1400
SPECTRUM_SIZE = 2048
#: Rows of the log-frequency spectrogram images, and their lowest frequency.
PICTURE_ROWS = 360
LOWEST_HZ = 20.0


def _sum(a: np.ndarray, b: np.ndarray) -> float:
    # einsum, not np.dot: OpenBLAS threads crawl on a busy machine.
    return float(np.einsum("i,i->", a.reshape(-1), b.reshape(-1), dtype=np.float64))


def _window_sums(a: np.ndarray, b: np.ndarray, count: int, window: int) -> np.ndarray:
    blocks_a = a[:, : count * window].reshape(a.shape[0], count, window)
    blocks_b = b[:, : count * window].reshape(b.shape[0], count, window)
    return np.asarray(np.einsum("cwn,cwn->w", blocks_a, blocks_b, dtype=np.float64))


class FrameCutter:
    """Frames of `size` samples at fixed starts, cut from consecutive blocks."""

    def __init__(self, starts: np.ndarray, size: int) -> None:
        self.starts = starts
        self.size = size
        self.next = 0
        self._tail: np.ndarray | None = None
        self._tail_start = 0

    def feed(self, position: int, block: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """Frames that end inside `block` (which starts at `position`): (index, frame)."""
        end = position + block.shape[-1]
        out = []
        while self.next < len(self.starts) and self.starts[self.next] + self.size <= end:
            s = int(self.starts[self.next])
            if s >= position:
                frame = block[..., s - position : s - position + self.size]
            else:
                assert self._tail is not None
                head = self._tail[..., s - self._tail_start :]
                frame = np.concatenate([head, block[..., : s + self.size - position]], axis=-1)
            out.append((self.next, frame))
            self.next += 1
        keep = self.size - 1
        if block.shape[-1] >= keep or self._tail is None:
            self._tail = block[..., max(0, block.shape[-1] - keep) :]
            self._tail_start = end - self._tail.shape[-1]
        else:
            joined = np.concatenate([self._tail, block], axis=-1)
            self._tail = joined[..., max(0, joined.shape[-1] - keep) :]
            self._tail_start = end - self._tail.shape[-1]
        return out


@dataclass(frozen=True)
class Picture:
    """What the PNG draws, summarised per column: bounded whatever the length.

    The difference is original − processed/g_k with the gain measured up to its block
    (it settles within the first seconds); every figure uses the final gain.
    """

    columns: np.ndarray  # column centres, samples from the overlap's start
    original_low: np.ndarray
    original_high: np.ndarray
    processed_low: np.ndarray  # gain-matched
    processed_high: np.ndarray
    difference_low: np.ndarray
    difference_high: np.ndarray
    difference_peak: float
    spectrum_times_s: np.ndarray  # frame centres, seconds from the overlap's start
    original_levels: np.ndarray  # (rows, frames) dBFS, log-frequency rows
    processed_levels: np.ndarray
    difference_levels: np.ndarray


@dataclass(frozen=True)
class Totals:
    gain: float
    correlation: float
    residual_db: float
    si_sdr_db: float
    energy_removed_db: float
    over_time: metrics.OverTime
    octave_bands: list[OctaveBand]
    band_edge_hz: float  # where the band both takes carry ends
    residual_shared_db: float | None  # null over [0, band_edge_hz), from the spectra


class NullTest:
    """Feed (original, aligned) blocks of the overlap in order; `totals()` at the end.

    Blocks are whole numbers of residual-over-time windows, except the last.
    """

    def __init__(self, rate: int, length: int, channels: int, picture: bool = True) -> None:
        self.rate = rate
        self.length = length
        self.channels = channels
        self.window = max(1, min(round(metrics.WINDOW_S * rate), length))
        self.windows = max(1, length // self.window)
        # Per window: E_o, E_a, <o,a>, |d_k|², <d_k,a>, 1/g_k.
        self._sums = np.zeros((6, self.windows))
        # What no whole window holds: E_o, E_a, <o,a>, |d|², Σh<d,a>, Σ<d,a>, Σh²E_a, Σh·E_a.
        self._rest = np.zeros(8)
        self._position = 0
        self._cum_oa = 0.0
        self._cum_oo = 0.0
        self._setup_spectra()
        self._picture = picture
        if picture:
            self._setup_picture()

    # -- the null -------------------------------------------------------------------
    def add(self, original: np.ndarray, aligned: np.ndarray) -> None:
        n = original.shape[-1]
        oa, oo = _sum(original, aligned), _sum(original, original)
        self._cum_oa += oa
        self._cum_oo += oo
        gain = self._cum_oa / self._cum_oo if self._cum_oo > 0 and self._cum_oa != 0 else 1.0
        inverse = 1.0 / gain
        difference = original - np.float32(inverse) * aligned
        first = self._position // self.window
        full = min(n // self.window, self.windows - first) if first < self.windows else 0
        if full > 0:
            cut = full * self.window
            w = slice(first, first + full)
            self._sums[0, w] = _window_sums(original, original, full, self.window)
            self._sums[1, w] = _window_sums(aligned, aligned, full, self.window)
            self._sums[2, w] = _window_sums(original, aligned, full, self.window)
            self._sums[3, w] = _window_sums(difference, difference, full, self.window)
            self._sums[4, w] = _window_sums(difference, aligned, full, self.window)
            self._sums[5, w] = inverse
        else:
            cut = 0
        if cut < n:
            o, a, d = original[:, cut:], aligned[:, cut:], difference[:, cut:]
            aa, da = _sum(a, a), _sum(d, a)
            h = inverse
            self._rest += (_sum(o, o), aa, _sum(o, a), _sum(d, d), h * da, da, h * h * aa, h * aa)
        self._add_spectra(original, aligned, inverse)
        if self._picture:
            self._add_picture(original, aligned, difference)
        self._position += n

    def _residual_energy(self, inverse: float) -> np.ndarray:
        c = self._sums[5] - inverse
        left = self._sums[3] + 2 * c * self._sums[4] + c * c * self._sums[1]
        return np.asarray(np.maximum(left, 0.0))

    def totals(self) -> Totals:
        e_o = float(self._sums[0].sum() + self._rest[0])
        e_a = float(self._sums[1].sum() + self._rest[1])
        x_oa = float(self._sums[2].sum() + self._rest[2])
        gain = x_oa / e_o if e_o > 0 else 1.0
        if gain == 0:
            per_window = self._sums[0].copy()
            rest = float(self._rest[0])
        else:
            per_window = self._residual_energy(1.0 / gain)
            rest = float(_corrected(self._rest[1:], 1.0 / gain))
        e_d = float(per_window.sum() + rest)
        scale = math.sqrt(e_o * e_a)
        residual_db = metrics.db(e_d / e_o) if e_o else 0.0
        if gain == 0:
            si_sdr = metrics.FLOOR_DB
        else:
            si_sdr = -metrics.FLOOR_DB if e_d == 0 else metrics.db(e_o / e_d)
        bands, edge, shared = self._spectral_totals(gain)
        return Totals(
            gain=gain,
            correlation=x_oa / scale if scale > 0 else 0.0,
            residual_db=residual_db,
            si_sdr_db=si_sdr,
            energy_removed_db=metrics.db(e_o) - metrics.db(e_a),
            over_time=self._over_time(per_window),
            octave_bands=bands,
            band_edge_hz=edge,
            residual_shared_db=shared,
        )

    def _over_time(self, residual: np.ndarray) -> metrics.OverTime:
        tiny = 1e-30
        norm = self.window * self.channels
        p_orig, p_proc, p_diff = self._sums[0] / norm, self._sums[1] / norm, residual / norm
        original_dbfs = 10 * np.log10(p_orig + tiny)
        residual_db = np.maximum(10 * np.log10((p_diff + tiny) / (p_orig + tiny)), metrics.FLOOR_DB)
        residual_db[original_dbfs < metrics.QUIET_DBFS] = np.nan
        return metrics.OverTime(
            times_s=(np.arange(self.windows) + 0.5) * self.window / self.rate,
            residual_db=residual_db,
            original_dbfs=np.maximum(original_dbfs, metrics.FLOOR_DB),
            processed_dbfs=np.maximum(10 * np.log10(p_proc + tiny), metrics.FLOOR_DB),
        )

    # -- spectra --------------------------------------------------------------------
    def _setup_spectra(self) -> None:
        segment = int(min(PSD_SEGMENT, self.length))
        most = max(MIN_PSD_FRAMES, self.length // (PSD_FRAME_SPACING * segment))
        count = min(most, max(1, 2 * self.length // segment - 1))
        starts = np.linspace(0, self.length - segment, count).round().astype(np.int64)
        self._psd_cutter = FrameCutter(starts, segment)
        self._psd_window = np.hanning(segment).astype(np.float32)
        bins = segment // 2 + 1
        # Σ|O|², Σ|A|², ΣRe(O*A), Σ|D|², Σh·Re(D*A), ΣRe(D*A), Σh²|A|², Σh|A|²
        self._spectra = np.zeros((8, bins))

    def _add_spectra(self, original: np.ndarray, aligned: np.ndarray, inverse: float) -> None:
        both = np.stack([original, aligned])
        for _, frame in self._psd_cutter.feed(self._position, both):
            # Single precision: a bin's error stays near -140 dB of its level.
            spectra = sfft.rfft(frame * self._psd_window, axis=-1).astype(np.complex128)
            o, a = spectra[0], spectra[1]  # (channels, bins)
            d = o - inverse * a
            aa = np.sum(np.abs(a) ** 2, axis=0)
            da = np.sum((np.conj(d) * a).real, axis=0)
            self._spectra += (
                np.sum(np.abs(o) ** 2, axis=0),
                aa,
                np.sum((np.conj(o) * a).real, axis=0),
                np.sum(np.abs(d) ** 2, axis=0),
                inverse * da,
                da,
                inverse * inverse * aa,
                inverse * aa,
            )

    def _difference_power(self, inverse: float) -> np.ndarray:
        return np.asarray(_corrected(self._spectra[1:], inverse))

    def _spectral_totals(self, gain: float) -> tuple[list[OctaveBand], float, float | None]:
        segment = self._psd_cutter.size
        freqs = np.fft.rfftfreq(segment, 1 / self.rate)
        window = self._psd_window
        one_sided = np.full(len(freqs), 2.0)
        one_sided[0] = 1.0
        if segment % 2 == 0:
            one_sided[-1] = 1.0
        frames = max(self._psd_cutter.next, 1)
        scale = 2.0 * one_sided / (segment * float(np.sum(window**2)) * frames)
        p_orig, p_proc = self._spectra[0] * scale, self._spectra[1] * scale
        p_diff = (self._difference_power(1.0 / gain) if gain else self._spectra[0]) * scale
        bands = metrics.octave_bands(freqs, p_orig, p_proc, p_diff, self.rate)
        edge = min(band_edge(freqs, p_orig), band_edge(freqs, p_proc))
        shared = None
        inside = freqs < edge
        e_orig = float(p_orig[inside].sum())
        cross = float(self._spectra[2][inside].sum())
        if e_orig > 0 and cross != 0:
            # The gain over the shared band alone: a band one take lacks does not pull it.
            band_gain = cross / float(self._spectra[0][inside].sum())
            e_diff = float((self._difference_power(1.0 / band_gain) * scale)[inside].sum())
            shared = metrics.db(e_diff / e_orig)
        return bands, edge, shared

    # -- the picture ----------------------------------------------------------------
    def _setup_picture(self) -> None:
        per = max(1, self.length // PICTURE_COLUMNS)
        self._per = per
        count = max(1, self.length // per)
        self._envelopes = np.zeros((6, count))
        self._envelopes[0::2] = np.inf
        self._envelopes[1::2] = -np.inf
        self._diff_peak = 0.0
        size = SPECTRUM_SIZE if self.length >= SPECTRUM_SIZE else max(16, self.length)
        hop = max(size // 4, (self.length - size) // PICTURE_COLUMNS + 1)
        starts = np.arange(0, max(1, self.length - size + 1), hop)
        self._spec_cutter = FrameCutter(starts, size)
        self._spec_window = np.hanning(size)
        freqs = np.fft.rfftfreq(size, 1 / self.rate)
        edges = np.geomspace(LOWEST_HZ, self.rate / 2, PICTURE_ROWS + 1)[:-1]
        self._spec_rows = np.searchsorted(freqs, edges).clip(max=len(freqs) - 1)
        self._spec_levels = np.zeros((3, PICTURE_ROWS, len(starts)), dtype=np.float32)

    def _add_picture(self, original: np.ndarray, aligned: np.ndarray, diff: np.ndarray) -> None:
        monos = np.stack([x.mean(axis=0) for x in (original, aligned, diff)])
        self._diff_peak = max(self._diff_peak, float(np.max(np.abs(diff), initial=0.0)))
        columns = (self._position + np.arange(monos.shape[1])) // self._per
        inside = columns < self._envelopes.shape[1]
        if inside.any():
            columns, monos_in = columns[inside], monos[:, inside]
            cuts = np.flatnonzero(np.diff(columns)) + 1
            firsts = np.concatenate([[0], cuts])
            which = columns[firsts]
            low = np.minimum.reduceat(monos_in, firsts, axis=1)
            high = np.maximum.reduceat(monos_in, firsts, axis=1)
            env = self._envelopes
            env[0::2, which] = np.minimum(env[0::2, which], low)
            env[1::2, which] = np.maximum(env[1::2, which], high)
        size = self._spec_cutter.size
        norm = float(np.sum(self._spec_window)) ** 2 / 4
        for index, frame in self._spec_cutter.feed(self._position, monos):
            power = np.abs(np.fft.rfft(frame.astype(np.float64) * self._spec_window, axis=-1)) ** 2
            rows = np.maximum.reduceat(power / norm, self._spec_rows, axis=1)
            self._spec_levels[:, :, index] = 10 * np.log10(rows + 1e-20)
        del size

    def picture(self, gain: float) -> Picture | None:
        if not self._picture:
            return None
        env = np.where(np.isfinite(self._envelopes), self._envelopes, 0.0)
        scale = 1.0 / gain if gain else 1.0
        p_low, p_high = env[2] * scale, env[3] * scale
        if scale < 0:
            p_low, p_high = p_high, p_low
        count = env.shape[1]
        spectra = self._spec_levels[:, :, : self._spec_cutter.next]
        starts = self._spec_cutter.starts[: self._spec_cutter.next]
        return Picture(
            columns=np.arange(count) * self._per + self._per / 2,
            original_low=env[0],
            original_high=env[1],
            processed_low=p_low,
            processed_high=p_high,
            difference_low=env[4],
            difference_high=env[5],
            difference_peak=self._diff_peak,
            spectrum_times_s=(starts + self._spec_cutter.size / 2) / self.rate,
            original_levels=spectra[0],
            processed_levels=spectra[1],
            difference_levels=spectra[2],
        )


def _corrected(sums: np.ndarray, inverse: float) -> np.ndarray:
    """|o − h·a|² from sums [|a|², <o,a>, |d_k|², Σh_k<d_k,a>, Σ<d_k,a>, Σh_k²|a|², Σh_k|a|²]
    (scalars or per bin), where each d_k = o − h_k·a."""
    aa, _, dd, hda, da, hhaa, haa = sums
    left = dd + 2 * (hda - inverse * da) + (hhaa - 2 * inverse * haa + inverse**2 * aa)
    return np.maximum(left, 0.0)


def band_edge(freqs: np.ndarray, power: np.ndarray) -> float:
    """Where a take's band ends: the lowest frequency with less than BAND_TAIL of its
    energy above (an MP3's low-pass, a lower sample rate's Nyquist)."""
    total = float(power.sum())
    if total <= 0:
        return float(freqs[-1])
    above = np.cumsum(power[::-1])[::-1] - power  # energy strictly above each bin
    inside = np.flatnonzero(above >= BAND_TAIL * total)
    if len(inside) == 0:
        return float(freqs[1]) if len(freqs) > 1 else float(freqs[-1])
    last = int(inside[-1]) + 1
    return float(freqs[min(last, len(freqs) - 1)])
