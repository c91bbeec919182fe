"""Align a processed take onto its original and measure what changed (a null test).

numpy/scipy only; the picture lives in `deecho.compare.plot`, imported on demand.
"""

from deecho.compare.comparison import align_and_compare, compare_files, compare_takes
from deecho.compare.figures import CompareFigures
from deecho.compare.result import CompareResult

__all__ = ["CompareFigures", "CompareResult", "align_and_compare", "compare_files", "compare_takes"]
