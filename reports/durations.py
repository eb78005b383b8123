"""Histogram bins for durations: a median or 90th percentile from rollups, to within a few per cent.

Bins grow by a quarter of an octave (each about 19% wider than the last), from one second to years,
so a percentile read from them, interpolated within its bin, is off by at most half a bin's width.
"""

import math
from collections.abc import Iterable

STEPS_PER_DOUBLING = 4


def bin_of(seconds: int) -> int:
    """The bin a duration falls in: 0 for under a second."""
    return int(STEPS_PER_DOUBLING * math.log2(1 + max(0, seconds)))


def bin_edges(index: int) -> tuple[float, float]:
    """The durations (seconds) a bin holds: from the first to just below the second."""
    return 2 ** (index / STEPS_PER_DOUBLING) - 1, 2 ** ((index + 1) / STEPS_PER_DOUBLING) - 1


def percentile(histogram: Iterable[tuple[int, int]], share: float) -> float | None:
    """The duration (seconds) below which `share` of the counted durations lie, from (bin, count)
    pairs; None when nothing was counted. Linear within the bin that holds it."""
    bins = sorted((index, count) for index, count in histogram if count > 0)
    total = sum(count for _, count in bins)
    if total == 0:
        return None
    rank = share * total
    seen = 0
    for index, count in bins:
        if seen + count >= rank:
            low, high = bin_edges(index)
            return low + (high - low) * ((rank - seen) / count)
        seen += count
    return bin_edges(bins[-1][0])[1]
