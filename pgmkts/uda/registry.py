"""Name → aggregate class, as MarketStore's sqlparser registry (names are case-insensitive)."""

from __future__ import annotations

from pgmkts import errors

from .base import Aggregate

_REGISTRY: dict[str, type[Aggregate]] = {}
# In MarketStore's registry but not here: say so rather than "no such function".
_NOT_SUPPORTED = {"adjust": "split/dividend adjustment needs the ICE corporate-actions feed (SYM/1D/ACTIONS)"}


def register(cls: type[Aggregate]) -> type[Aggregate]:
    """Class decorator; also usable by extensions to add their own functions."""
    _REGISTRY[cls.name.lower()] = cls
    return cls


def get(name: str) -> type[Aggregate]:
    _load_builtins()
    cls = _REGISTRY.get(name.lower())
    if cls is None and name.lower() in _NOT_SUPPORTED:
        raise errors.FeatureNotSupported(f"MarketStore's {name.lower()}() is not supported: {_NOT_SUPPORTED[name.lower()]}",
                                         hint=f"available functions: {', '.join(names())}")
    if cls is None:
        raise errors.UndefinedFunction(
            f"no function in the UDA registry named {name!r}",
            hint=f"available functions: {', '.join(names())}")
    return cls


def names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    # Imported lazily so registry.py has no import cycle with the modules that register here.
    from . import candler, gap, scalar  # noqa: F401
