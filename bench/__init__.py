"""deecho's benchmark: generated cases with known answers, the engine against nara_wpe.

Run it with `python -m bench.engine` (see bench/README.md).
"""
