"""TimeBucketKey parsing and name validation: the ONE place where names become paths.

A name part (symbol, timeframe, attribute group) may hold what MarketStore users put there
(`BTC-USD`, `BRK.B`, `^GSPC`, `EUR=X`, `X:BTCUSD` is *not* allowed: ':' separates the TBK
suffix). Nothing may escape the data directory or create odd files: no '/', '\\', NUL,
control characters, '*', ',', ':', no leading '.', nothing over 128 characters (the file system allows 255; MarketStore's own integration suite uses 72-character symbols).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pgmkts import errors
from pgmkts.storage.timeframe import canonical_timeframe

MAX_NAME_LEN = 128
# '*' and ',' are query syntax (all symbols, symbol lists); ':' separates the TBK schema suffix;
# the rest are path separators or characters that make odd files on some filesystems.
_FORBIDDEN = frozenset('/\\*,:\x00?<>|"\'`')
_FORBIDDEN_RE = re.compile("[" + re.escape("".join(sorted(_FORBIDDEN))) + "]")
_SCHEMA_SUFFIX = "symbol/timeframe/attributegroup"
_OK: set[str] = set()  # names already validated (bounded): start-up and hot paths skip the scan


def validate_part(name: object, what: str = "name") -> str:
    """Return `name` if it is a safe single path component, else raise `InvalidName`."""
    if name in _OK:
        return name  # type: ignore[return-value]
    if not isinstance(name, str):
        raise errors.InvalidName(f"invalid {what}: expected a string, got {type(name).__name__}")
    if not name:
        raise errors.InvalidName(f"invalid {what}: empty")
    if len(name) > MAX_NAME_LEN:
        raise errors.InvalidName(f"invalid {what}: longer than {MAX_NAME_LEN} characters")
    if name.startswith("."):
        raise errors.InvalidName(f"invalid {what} {name!r}: must not start with '.'")
    if name != name.strip():
        raise errors.InvalidName(f"invalid {what} {name!r}: leading or trailing whitespace")
    # isprintable() is False for control characters, line/paragraph separators and every
    # whitespace but the ASCII space (Unicode categories C* and Z* except U+0020)
    if _FORBIDDEN_RE.search(name) or not name.isprintable():
        ch = next(c for c in name if c in _FORBIDDEN or not c.isprintable())
        raise errors.InvalidName(f"invalid {what} {name!r}: character {ch!r} is not allowed")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise errors.InvalidName(f"invalid {what} {name!r}: not valid UTF-8") from exc
    if len(_OK) < 100_000:
        _OK.add(name)
    return name


@dataclass(frozen=True, slots=True)
class TBK:
    """A validated TimeBucketKey. The timeframe is canonical ("1T" is stored as "1Min")."""

    symbol: str
    timeframe: str
    attrgroup: str

    @classmethod
    def of(cls, symbol: str, timeframe: str, attrgroup: str) -> TBK:
        validate_part(symbol, "symbol")
        validate_part(timeframe, "timeframe")
        validate_part(attrgroup, "attribute group")
        try:
            tf = canonical_timeframe(timeframe)
        except errors.InvalidParameterValue as exc:
            raise errors.InvalidName(str(exc)) from exc
        return cls(symbol, tf, attrgroup)

    @classmethod
    def parse(cls, s: object) -> TBK:
        """Parse "AAPL/1Min/OHLCV" or "AAPL/1Min/OHLCV:Symbol/Timeframe/AttributeGroup"."""
        if isinstance(s, TBK):
            return s
        if not isinstance(s, str):
            raise errors.InvalidName(f"invalid bucket key: expected a string, got {type(s).__name__}")
        if len(s) > 3 * MAX_NAME_LEN + 2 + 1 + len(_SCHEMA_SUFFIX):
            raise errors.InvalidName("invalid bucket key: too long")
        key = s
        if ":" in s:
            key, _, suffix = s.partition(":")
            if suffix.lower() != _SCHEMA_SUFFIX:
                raise errors.InvalidName(
                    f"invalid bucket key {s!r}: the part after ':' must be Symbol/Timeframe/AttributeGroup")
        parts = key.split("/")
        if len(parts) != 3:
            raise errors.InvalidName(
                f"invalid bucket key {s!r}: expected SYMBOL/TIMEFRAME/ATTRGROUP, e.g. AAPL/1Min/OHLCV")
        return cls.of(*parts)

    def __str__(self) -> str:
        return f"{self.symbol}/{self.timeframe}/{self.attrgroup}"

    def path(self, root: str | Path) -> str:
        """The bucket directory under `root`, verified to stay inside it."""
        return safe_join(root, self.symbol, self.timeframe, self.attrgroup)


def safe_join(root: str | Path, *parts: str) -> str:
    """Join validated parts under `root` and check the result cannot leave `root`."""
    root_s = os.path.abspath(root)
    for p in parts:
        validate_part(p)
    path = os.path.join(root_s, *parts)
    # validated parts hold no separator and are never '.' or '..': this is belt and braces
    if not path.startswith(root_s.rstrip(os.sep) + os.sep):
        raise errors.InvalidName(f"invalid name: {'/'.join(parts)!r} leaves the data directory")
    return path
