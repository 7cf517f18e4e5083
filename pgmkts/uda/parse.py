"""Parsing of MarketStore `functions` strings — "candlecandler('5Min',Open,High,Low,Close,Sum::Volume)"
— into a name, init literals and parameters, and binding parameters to an aggregate's inputs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pgmkts import errors


@dataclass(frozen=True)
class Call:
    name: str                      # lower-cased function name
    literals: tuple[str, ...]      # quoted tokens: init arguments such as '5Min'
    params: tuple[str, ...]        # bare tokens: columns, or 'Param::Column'
    text: str = ""


def parse_call(call: str) -> Call:
    """MarketStore's ParseFunctionCall, also accepting double quotes (pymarketstore users send both).

    Literals are pulled out wherever they appear; the rest is split on commas.
    """
    if not isinstance(call, str):
        raise errors.InvalidParameterValue(f"function call must be a string, got {type(call).__name__}")
    text = call.strip()
    left, right = text.find("("), text.rfind(")")
    if left <= 0 or right < left or text[right + 1:].strip():
        raise errors.SyntaxError_(
            f"unable to parse function call {call!r}",
            hint="write it as name(args), e.g. candlecandler('5Min',Open,High,Low,Close,Sum::Volume)")
    name = text[:left].strip()
    if not name.replace("_", "").isalnum():
        raise errors.SyntaxError_(f"unable to parse function name in {call!r}")
    body = text[left + 1:right]
    literals: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch in "'\"":
            j = body.find(ch, i + 1)
            if j < 0:
                raise errors.SyntaxError_(f"unclosed literal in function call {call!r}")
            literals.append(body[i + 1:j])
            i = j + 1
        else:
            rest.append(ch)
            i += 1
    params = tuple(p.strip() for p in "".join(rest).split(",") if p.strip())
    return Call(name.lower(), tuple(literals), params, text)


@dataclass
class Bound:
    """Parameter name → input columns bound to it (a parameter may take several columns)."""

    columns: dict[str, list[str]] = field(default_factory=dict)

    def get(self, param: str) -> list[str]:
        return self.columns.get(param, [])


def bind_params(fname: str, params: Sequence[str], required: Sequence[str], optional: Sequence[str]) -> Bound:
    """Named ('Sum::Volume') first, then positional required, then positional optional.

    Parameter names match case-insensitively (users write sum::, Sum::, SUM::). MarketStore
    drops a trailing positional optional (an off-by-one); here every positional optional binds.
    """
    canon = {p.lower(): p for p in (*required, *optional)}
    bound: dict[str, list[str]] = {}
    positional: list[str] = []
    for token in params:
        if "::" in token:
            pname, _, col = token.partition("::")
            key = canon.get(pname.strip().lower())
            if key is None or not col.strip():
                expected = ", ".join(f"{p}::<column>" for p in (*required, *optional)) or "none"
                raise errors.InvalidParameterValue(
                    f"unknown parameter {token!r} for {fname}", hint=f"named parameters: {expected}")
            bound.setdefault(key, []).append(col.strip())
        else:
            positional.append(token)
    unfilled_req = [p for p in required if p not in bound]
    if len(positional) < len(unfilled_req):
        raise errors.InvalidParameterValue(
            f"insufficient args for {fname}: have {list(params)}, required {list(required)}")
    it = iter(positional)
    for p in unfilled_req:
        bound[p] = [next(it)]
    left = list(it)
    for p in optional:
        if not left:
            break
        if p in bound:  # already bound by name; positional fills the next one
            continue
        bound.setdefault(p, []).append(left.pop(0))
    if left:
        raise errors.InvalidParameterValue(
            f"extra args for {fname}: have {list(params)}, required {list(required)}, "
            f"optional {list(optional)}")
    return Bound(bound)


def resolve_column(fname: str, col: str, available: Iterable[str]) -> str:
    """Exact name first; else a unique case-insensitive match (SQL users see lower-case names)."""
    names = list(available)
    if col in names:
        return col
    folded = [n for n in names if n.lower() == col.lower()]
    if len(folded) == 1:
        return folded[0]
    raise errors.UndefinedColumn(
        f"{fname}: column {col!r} does not exist in the input (have: {', '.join(names)})")


def require_literals(fname: str, literals: Sequence[str], n_min: int, n_max: int) -> None:
    if len(literals) < n_min:
        raise errors.InvalidParameterValue(
            f"not enough init arguments for {fname}, need {n_min} have {len(literals)}",
            hint=f"quote init arguments, e.g. {fname}('5Min', ...)")
    if len(literals) > n_max:
        raise errors.InvalidParameterValue(
            f"too many init arguments for {fname}: {list(literals)} (at most {n_max})")

