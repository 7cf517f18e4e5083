"""apply_functions: run a chain of MarketStore `functions` strings over query results, each
function's output being the next one's input (MarketStore's AggRunner.Run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from pgmkts import errors

from . import registry
from .base import Aggregate, Context
from .parse import bind_params, parse_call


def build(call: str, input_schema: Sequence[tuple[str, str]], *, tf_seconds: int = 0,
          timezone: str = "UTC") -> Aggregate:
    """Parse one call and create its aggregate, validated against the input schema."""
    c = parse_call(call)
    cls = registry.get(c.name)
    bound = bind_params(c.name, c.params, cls.required, cls.optional)
    return cls(bound, c.literals, Context(int(tf_seconds), timezone, tuple(input_schema)))


def schema_of(data: Mapping[str, np.ndarray]) -> tuple[tuple[str, str], ...]:
    return tuple((k, np.asarray(v).dtype.str.lstrip("<>|=")) for k, v in data.items())


def apply_functions(data: dict[str, np.ndarray], functions: list[str], *, tf_seconds: int,
                    timezone: str = "UTC") -> dict[str, np.ndarray]:
    """Apply `functions` in order to `data` ({'Epoch': i8 seconds, ...}, one bucket's rows after
    range and limit). Unknown function → UndefinedFunction; bad arguments →
    InvalidParameterValue; a missing column → UndefinedColumn."""
    if isinstance(functions, str):
        functions = [functions]
    if "Epoch" not in data:
        raise errors.UndefinedColumn("function input has no Epoch column")
    out: dict[str, np.ndarray] = dict(data)
    for call in functions:
        agg = build(call, schema_of(out), tf_seconds=tf_seconds, timezone=timezone)
        agg.update(out)
        out = agg.finalize()
    return out


def output_schema(functions: list[str], input_schema: Sequence[tuple[str, str]], *,
                  tf_seconds: int = 0, timezone: str = "UTC") -> list[tuple[str, str]]:
    """Output columns of a function chain without running it (for RowDescription / planning)."""
    schema = list(input_schema)
    for call in functions:
        schema = build(call, schema, tf_seconds=tf_seconds, timezone=timezone).output_schema()
    return schema
