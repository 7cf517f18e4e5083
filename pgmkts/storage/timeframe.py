"""MarketStore timeframe strings: parse ("1Min", "5T", "1H", "1D"), seconds, canonical name.

Follows `utils/timeframe.go` `TimeframeFromString`: the suffixes S, Sec, T, Min, H, D, W are
scanned in that order, the first that matches wins, and the prefix must be an integer > 0.
`Y` (and the UDA-only `M`) have no fixed length in seconds, so no bucket can use them.
"""

from __future__ import annotations

from functools import lru_cache

from pgmkts import errors

# (suffix, seconds per unit, canonical suffix) in MarketStore's scan order.
_SUFFIXES: tuple[tuple[str, int, str], ...] = (
    ("S", 1, "Sec"),
    ("Sec", 1, "Sec"),
    ("T", 60, "Min"),
    ("Min", 60, "Min"),
    ("H", 3600, "H"),
    ("D", 86400, "D"),
    ("W", 7 * 86400, "W"),
)

# One slot must fit in a year file; the largest sensible on-disk timeframe is 1D (MarketStore),
# 1W is accepted as well. Anything longer than a year would leave files with no slot.
MAX_TF_SECONDS = 365 * 86400


@lru_cache(maxsize=1024)
def parse_timeframe(tf: str) -> tuple[int, str]:
    """Return (seconds, canonical name) for a MarketStore timeframe, e.g. "1T" -> (60, "1Min")."""
    if not isinstance(tf, str) or not tf or len(tf) > 32:
        raise errors.InvalidParameterValue(f"invalid timeframe: {tf!r}")
    for suffix, unit, canon in _SUFFIXES:
        if tf.endswith(suffix):
            prefix = tf[: -len(suffix)]
            if not prefix or not prefix.isascii() or not prefix.isdigit():
                break
            n = int(prefix)
            if n <= 0:
                break
            seconds = n * unit
            if seconds > MAX_TF_SECONDS:
                raise errors.InvalidParameterValue(
                    f"timeframe {tf!r} is longer than a year; the largest on-disk timeframe is 52W")
            return seconds, f"{n}{canon}"
    raise errors.InvalidParameterValue(
        f"invalid timeframe: {tf!r} (expected an integer > 0 and a unit S/Sec, T/Min, H, D or W, e.g. 1Min)")


def timeframe_seconds(tf: str) -> int:
    """Seconds in one timeframe; raises `InvalidParameterValue` for a bad string."""
    return parse_timeframe(tf)[0]


def canonical_timeframe(tf: str) -> str:
    """The canonical spelling used for directory names: "1T" -> "1Min", "5S" -> "5Sec"."""
    return parse_timeframe(tf)[1]
