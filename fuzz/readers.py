"""Coverage-guided fuzzing (atheris) of the audio readers: `make fuzz`, not `make test`.

The property is the one `tests/unit/test_properties.py` checks with hypothesis, now
driven by coverage instead of chosen mutations: whatever bytes a file holds, reading
it gives audio or one of deecho's own errors (what the CLI answers with exit 65 and
the server with 422). Any other exception is a crash: atheris stops and writes the
input to `fuzz/artifacts/`, to be turned into a test.

The first byte of each input picks the file name's extension, since the readers
choose libsndfile or PyAV partly by it; the rest is the file. The seed corpus is a
second of real audio in each container libsndfile writes, made on the spot.

    python -m fuzz.readers [SECONDS]
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

import atheris
import numpy as np
import soundfile as sf

with atheris.instrument_imports(include=["deecho"]):
    from deecho.audio.io import read_audio
    from deecho.errors import DeechoError

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
EXTENSIONS = (".wav", ".flac", ".aiff", ".ogg", ".mp3", ".m4a", ".caf", ".bin")
#: (container, subtype, extension) of the seed files.
SEEDS = (
    ("WAV", "PCM_16", ".wav"),
    ("WAVEX", "PCM_24", ".wav"),
    ("WAV", "FLOAT", ".wav"),
    ("AIFF", "PCM_16", ".aiff"),
    ("FLAC", "PCM_16", ".flac"),
    ("OGG", "VORBIS", ".ogg"),
    ("MP3", "MPEG_LAYER_III", ".mp3"),
    ("CAF", "ALAC_16", ".caf"),
)


def _seed_corpus(folder: Path) -> None:
    t = np.arange(8000) / 8000
    audio = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1) * 0.3
    for container, subtype, extension in SEEDS:
        buffer = io.BytesIO()
        sf.write(buffer, audio, 8000, format=container, subtype=subtype)
        prefix = bytes([EXTENSIONS.index(extension)])
        (folder / f"seed-{container}-{subtype}").write_bytes(prefix + buffer.getvalue())


def _one_input(data: bytes) -> None:
    if not data:
        return
    extension = EXTENSIONS[data[0] % len(EXTENSIONS)]
    with tempfile.TemporaryDirectory(prefix="deecho-fuzz-") as folder:
        path = Path(folder) / f"input{extension}"
        path.write_bytes(data[1:])
        # Refused with a reason is what the user is promised; anything else is a crash.
        with contextlib.suppress(DeechoError):
            read_audio(path)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deecho-fuzz-corpus-") as corpus:
        _seed_corpus(Path(corpus))
        os.environ.setdefault("PYTHONHASHSEED", "0")
        atheris.Setup(
            [
                sys.argv[0],
                f"-max_total_time={seconds}",
                "-max_len=65536",
                # A fuzzed header may claim gigabytes of samples; the cap turns a
                # reader that would allocate them into a finding, not a stuck run.
                "-rss_limit_mb=2048",
                f"-artifact_prefix={ARTIFACTS}/",
                corpus,
            ],
            _one_input,
        )
        atheris.Fuzz()


if __name__ == "__main__":
    main()
