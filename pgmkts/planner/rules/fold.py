"""Rule: constant folding of literal-only sub-expressions (done once at plan time)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from pgmkts.planner.rules.common import is_constant

_FOLDABLE = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.Paren, exp.Cast)


def fold_constants(e: exp.Expression, evaluate: Callable[[exp.Expression], object]) -> exp.Expression:
    """Replace arithmetic/casts over literals (no params, no now()) by one literal."""
    def fold(node: exp.Expression) -> exp.Expression:
        if isinstance(node, _FOLDABLE) and is_constant(node, allow_params=False, allow_now=False):
            if all(isinstance(x, exp.Literal | exp.Paren | exp.Neg | exp.Add | exp.Sub | exp.Mul
                              | exp.Div | exp.Cast | exp.DataType | exp.Interval | exp.Var)
                   for x in node.walk()):
                try:
                    v = evaluate(node)
                except Exception:
                    return node  # errors surface at execution, with the statement's context
                lit = _literal(v, node)
                if lit is not None:
                    return lit
        return node
    return e.transform(fold, copy=True)


def _literal(v, node) -> exp.Expression | None:
    if not isinstance(v, pa.Scalar) or not v.is_valid:
        return None
    t = v.type
    if isinstance(node, exp.Cast):
        return None  # keep typed casts: the type matters for the result column
    if pa.types.is_integer(t) and pa.types.is_int32(t):
        return exp.Literal.number(v.as_py())
    if pa.types.is_float64(t) and not isinstance(node, exp.Cast):
        x = v.as_py()
        if x == x and abs(x) != float("inf"):
            return exp.Literal.number(repr(x))
    return None
