"""Column types, BucketInfo, bucket meta files and the start-up catalog scan.

Each bucket directory `root/SYMBOL/TIMEFRAME/ATTRGROUP/` holds `meta.json` (the schema) and
one data file per UTC calendar year. The catalog is rebuilt at start-up with `os.scandir`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import numpy as np

from pgmkts import errors
from pgmkts.storage.names import TBK

log = logging.getLogger("pgmkts.storage.catalog")

META = "meta.json"
META_FORMAT = 1

# Public type code -> numpy dtype (little-endian, as MarketStore stores them).
TYPE_CODES: dict[str, np.dtype] = {
    "i1": np.dtype("<i1"), "i2": np.dtype("<i2"), "i4": np.dtype("<i4"), "i8": np.dtype("<i8"),
    "u1": np.dtype("<u1"), "u2": np.dtype("<u2"), "u4": np.dtype("<u4"), "u8": np.dtype("<u8"),
    "f4": np.dtype("<f4"), "f8": np.dtype("<f8"), "bool": np.dtype("?"), "U16": np.dtype("<U16"),
}
_ALIASES = {
    "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8", "uint8": "u1", "uint16": "u2",
    "uint32": "u4", "uint64": "u8", "float32": "f4", "float64": "f8", "b1": "bool", "?": "bool",
    "<U16": "U16", "string": "U16", "str": "U16",
}


def type_code(code: str) -> str:
    """Normalise a user-supplied type name ('float32', '<f4', 'f4', 'U16') to a code."""
    if not isinstance(code, str):
        raise errors.InvalidParameterValue(f"invalid column type {code!r}")
    c = code.strip()
    c = _ALIASES.get(c, _ALIASES.get(c.lower(), c))
    if c.startswith(("<", "=", "|")) and c[1:] in TYPE_CODES:
        c = c[1:]
    if c not in TYPE_CODES:
        raise errors.InvalidParameterValue(
            f"unsupported column type {code!r} (supported: {', '.join(TYPE_CODES)})")
    return c


def code_for_array(name: str, a: np.ndarray) -> str:
    """The column type a first write creates for an array (auto-create, 'Created By Writer')."""
    k = a.dtype.kind
    if k in "iu":
        return f"{k}{a.dtype.itemsize}"
    if k == "f":
        return "f8" if a.dtype.itemsize >= 8 else "f4"
    if k == "b":
        return "bool"
    if k in "USO":
        return "U16"
    raise errors.InvalidParameterValue(f"column {name!r}: unsupported data type {a.dtype}")


@dataclass(frozen=True)
class BucketInfo:
    tbk: str
    symbol: str
    timeframe: str
    attrgroup: str
    tf_seconds: int
    variable_length: bool
    # (name, dtype code): Epoch ('i8') first; for variable buckets Nanoseconds ('i4') last.
    columns: tuple[tuple[str, str], ...]

    @property
    def data_columns(self) -> tuple[tuple[str, str], ...]:
        """Columns as stored, without Epoch and (variable) Nanoseconds."""
        cols = self.columns[1:]
        return cols[:-1] if self.variable_length else cols


_COLS_MEMO: dict[tuple, tuple[tuple[str, str], ...]] = {}  # thousands of buckets share a schema


def make_info(tbk: TBK, tf_seconds: int, variable: bool, data_cols: list[tuple[str, str]]) -> BucketInfo:
    key = (bool(variable), *(tuple(c) for c in data_cols))
    cols = _COLS_MEMO.get(key)
    if cols is None:
        lst = [("Epoch", "i8"), *[(n, type_code(t)) for n, t in data_cols]]
        if variable:
            lst.append(("Nanoseconds", "i4"))
        cols = tuple(lst)
        if len(_COLS_MEMO) < 10_000:
            _COLS_MEMO[key] = cols
    return BucketInfo(f"{tbk.symbol}/{tbk.timeframe}/{tbk.attrgroup}", tbk.symbol, tbk.timeframe,
                      tbk.attrgroup, tf_seconds, bool(variable), cols)


def validate_columns(data_cols: list[tuple[str, str]], variable: bool) -> list[tuple[str, str]]:
    """Check a schema (excluding Epoch/Nanoseconds): names unique and safe, types known."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in data_cols:
        try:
            name, code = item
        except (TypeError, ValueError) as exc:
            raise errors.InvalidParameterValue(f"invalid column spec {item!r}") from exc
        if not isinstance(name, str) or not name or len(name) > 63 or "\x00" in name:
            raise errors.InvalidParameterValue(f"invalid column name {name!r}")
        if name == "Epoch" or (variable and name == "Nanoseconds"):
            raise errors.InvalidParameterValue(f"column {name!r} is implicit and must not be listed")
        if name in seen:
            raise errors.InvalidParameterValue(f"duplicate column name {name!r}")
        seen.add(name)
        out.append((name, type_code(code)))
    if len(out) > 1024:
        raise errors.ProgramLimitExceeded("a bucket can have at most 1024 columns")
    return out


def meta_dict(info: BucketInfo) -> dict:
    return {
        "format": META_FORMAT,
        "tbk": info.tbk,
        "timeframe": info.timeframe,
        "tf_seconds": info.tf_seconds,
        "variable_length": info.variable_length,
        "columns": [list(c) for c in info.data_columns],
    }


def save_cache(cache_path: str, buckets: list[tuple[BucketInfo, str]]) -> None:
    """Record the catalog for the next start-up (see `scan`)."""
    entries: dict[str, list] = {}
    for info, path in buckets:
        try:
            st = os.stat(os.path.join(path, META))
        except OSError:
            continue
        entries[info.tbk] = [[st.st_ino, st.st_size, st.st_mtime_ns], meta_dict(info)]
    write_cache(cache_path, entries)


def write_meta(path: str, info: BucketInfo) -> None:
    meta = meta_dict(info)
    tmp = os.path.join(path, META + ".tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f)
    os.replace(tmp, os.path.join(path, META))


def read_meta(path: str, tbk: TBK) -> BucketInfo:
    return info_from_meta(tbk, _load_meta(path))


def _load_meta(path: str) -> dict:
    fd = os.open(os.path.join(path, META), os.O_RDONLY)
    try:
        return json.loads(os.read(fd, 1 << 20))
    finally:
        os.close(fd)


def info_from_meta(tbk: TBK, meta: dict) -> BucketInfo:
    return make_info(tbk, int(meta["tf_seconds"]), bool(meta["variable_length"]),
                     [(n, t) for n, t in meta["columns"]])


def scan(root: str, cache_path: str | None = None) -> list[tuple[BucketInfo, str]]:
    """Walk root/SYMBOL/TIMEFRAME/ATTRGROUP/meta.json; skip (and log) anything odd.

    Returns (info, bucket directory) pairs. Reading 10,000 small meta files costs ~0.5 s, so
    a cache of them (written at checkpoints) is used for every meta.json whose stat
    (inode, size, mtime) still matches; anything copied in or changed is read afresh.
    """
    cache: dict[str, list] = {}
    if cache_path:
        try:
            with open(cache_path, "rb") as f:
                raw = json.loads(f.read())
            if raw.get("format") == META_FORMAT:
                cache = raw["entries"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            cache = {}
    fresh: dict[str, list] = {}
    out: list[tuple[BucketInfo, str]] = []
    with os.scandir(root) as syms:
        sym_entries = [e for e in syms if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)]
    for s in sym_entries:
        with os.scandir(s.path) as tfs:
            tf_entries = [e for e in tfs if e.is_dir(follow_symlinks=False)]
        for t in tf_entries:
            with os.scandir(t.path) as ags:
                ag_entries = [e for e in ags if e.is_dir(follow_symlinks=False)]
            for a in ag_entries:
                rel = f"{s.name}/{t.name}/{a.name}"
                try:
                    tbk = TBK.of(s.name, t.name, a.name)
                    if tbk.timeframe != t.name:
                        raise errors.InvalidName(f"non-canonical timeframe directory {t.name!r}")
                    st = os.stat(f"{a.path}/{META}")
                    sig = [st.st_ino, st.st_size, st.st_mtime_ns]
                    hit = cache.get(rel)
                    meta = hit[1] if hit and hit[0] == sig else _load_meta(a.path)
                    out.append((info_from_meta(tbk, meta), a.path))
                    fresh[rel] = [sig, meta]
                except FileNotFoundError:
                    continue  # a directory without meta.json: not a bucket (e.g. half-destroyed)
                except (errors.PgmktsError, OSError, ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping %s: %s", a.path, exc)
    if cache_path and fresh != cache:
        write_cache(cache_path, fresh)
    return out


def write_cache(cache_path: str, entries: dict[str, list]) -> None:
    tmp = cache_path + ".tmp"
    try:
        with open(tmp, "w") as f:
            json.dump({"format": META_FORMAT, "entries": entries}, f, separators=(",", ":"))
        os.replace(tmp, cache_path)
    except OSError as exc:  # only a cache: start-up is slower without it
        log.warning("cannot write catalog cache %s: %s", cache_path, exc)
