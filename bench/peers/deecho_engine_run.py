"""Run deecho's engine directly on one WAV file (the stand-in for `deecho process`).

Usage: python bench/peers/deecho_engine_run.py INPUT.wav OUTPUT.wav

The benchmark uses `deecho process` when the CLI is installed; this script is
the fall-back that calls `deecho.engine.remove_echo` on the whole file. It
prints the engine's report as one JSON object on stdout, like `--json` does.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np
import soundfile as sf


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: deecho_engine_run.py INPUT.wav OUTPUT.wav", file=sys.stderr)
        return 64
    # Looked up at run time: this script also serves while the engine is being built.
    remove_echo = importlib.import_module("deecho.engine").remove_echo
    audio, rate = sf.read(argv[0], dtype="float32", always_2d=True)
    result = remove_echo(np.ascontiguousarray(audio.T), rate)
    sf.write(argv[1], np.asarray(result.no_echo).T, rate, subtype="FLOAT")
    print(json.dumps({"report": result.report.to_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
