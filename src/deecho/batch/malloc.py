"""Undo the allocator setting a Dask worker starts with, which costs the engine half again.

Dask's nanny starts each worker with MALLOC_TRIM_THRESHOLD_=65536 (its
`distributed.nanny.pre-spawn-environ`). Setting any such variable also stops glibc
from raising its mmap threshold as large blocks are freed, so every numpy array over
128 KiB is mapped, zeroed by the kernel and unmapped again, file after file. Measured
on 30 clips of 1-6 s in one process: 7.4-7.9 s of CPU by default, 11.9 s with the
variable set (bench.batch's Dask run was 1.48x slower than --jobs 2 on 200 clips).
mallopt() at run time puts back thresholds like the ones glibc grows to on its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

__all__ = ["undo_dask_malloc_trim"]

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
#: glibc's own ceiling for the dynamic mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
_MMAP_THRESHOLD = 32 * 1024 * 1024
#: Twice the mmap threshold, as glibc keeps it when it raises the threshold itself.
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD


@functools.cache
def undo_dask_malloc_trim() -> bool:
    """Once per process, where the variable is set and glibc is the allocator."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to undo
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
