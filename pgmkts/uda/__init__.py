"""MarketStore's user-defined aggregates (candlecandler, tickcandler, count, min, max, avg, gap)
and the vectorised down-sampling kernel they share with SQL time_bucket and ondiskagg."""

from .apply import apply_functions, build, output_schema
from .base import Aggregate, Context
from .kernels import AGGS, reduce_runs, resample_ohlcv, window_runs
from .parse import parse_call
from .registry import get as get_function
from .registry import names as function_names
from .registry import register
from .windows import Window, bucket_index, parse_window, window_from_seconds, window_starts

__all__ = [
    "AGGS", "Aggregate", "Context", "Window", "apply_functions", "bucket_index", "build",
    "function_names", "get_function", "output_schema", "parse_call", "parse_window", "reduce_runs",
    "register", "resample_ohlcv", "window_from_seconds", "window_runs", "window_starts",
]
