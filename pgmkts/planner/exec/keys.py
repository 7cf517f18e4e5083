"""Grouping codes and sort orders over arrow columns (vectorised: dictionary codes, lexsort)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def codes(arr: pa.Array) -> tuple[np.ndarray, int]:
    """Dense int64 code per row (NULL is its own code) and the number of distinct codes."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type) or pa.types.is_timestamp(arr.type) \
            or pa.types.is_date32(arr.type) or pa.types.is_boolean(arr.type):
        a = _as_int64(arr) if not pa.types.is_floating(arr.type) else arr.cast(pa.float64())
        vals = a.to_numpy(zero_copy_only=False)
        if arr.null_count:
            nulls = arr.is_null().to_numpy(zero_copy_only=False)
            vals = np.where(nulls, 0, np.nan_to_num(vals)).astype(vals.dtype if not nulls.any() else "f8")
            uniq, inv = np.unique(vals, return_inverse=True)
            inv = inv.astype(np.int64)
            inv[nulls] = len(uniq)
            return inv, len(uniq) + 1
        uniq, inv = np.unique(vals, return_inverse=True)
        return inv.astype(np.int64), len(uniq)
    enc = pc.dictionary_encode(arr, null_encoding="encode")
    idx = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return idx, len(enc.dictionary)


def group_ids(keys: list[pa.Array], n: int) -> tuple[np.ndarray, int]:
    """Group id per row over several key columns; ids are dense 0..G-1."""
    if not keys:
        return np.zeros(n, np.int64), 1
    combined = None
    card = 1
    for k in keys:
        c, m = codes(k)
        if combined is None:
            combined, card = c, m
        elif card * max(m, 1) < 2**62:
            combined = combined * max(m, 1) + c
            card *= max(m, 1)
        else:
            _u, combined = np.unique(np.stack([combined, c], axis=1), axis=0, return_inverse=True)
            combined = combined.reshape(-1).astype(np.int64)
            card = int(combined.max()) + 1 if len(combined) else 1
    assert combined is not None   # keys is never empty here
    uniq, inv = np.unique(combined, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), len(uniq)


def first_occurrence(gid: np.ndarray, ngroups: int) -> np.ndarray:
    """Row index of each group's first row, in order of first appearance."""
    _u, first = np.unique(gid, return_index=True)
    return np.sort(first)


def sort_key(arr: pa.Array, desc: bool, nulls_first: bool | None) -> np.ndarray:
    """A numpy key whose ascending order is the SQL order (PostgreSQL: NULLS LAST for ASC)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if nulls_first is None:
        nulls_first = desc
    if (pa.types.is_integer(arr.type) or pa.types.is_timestamp(arr.type) or pa.types.is_date32(arr.type)
            or pa.types.is_boolean(arr.type) or pa.types.is_duration(arr.type)):
        k = _as_int64(arr).to_numpy(zero_copy_only=False).astype("f8") if arr.null_count else \
            _as_int64(arr).to_numpy(zero_copy_only=False)
        if arr.null_count == 0 and abs(int(k.max(initial=0))) < 2**53 and abs(int(k.min(initial=0))) < 2**53:
            return -k if desc else k
        k = k.astype("f8")
    elif pa.types.is_floating(arr.type):
        k = arr.cast(pa.float64()).to_numpy(zero_copy_only=False).copy()
        # PostgreSQL sorts NaN above every number
        nan = np.isnan(k) & ~arr.is_null().to_numpy(zero_copy_only=False)
        if nan.any():
            k[nan] = np.inf
            big = np.nextafter(np.inf, 0)
            k[np.isinf(k) & (k > 0) & ~nan] = big
    else:
        k = pc.rank(arr.fill_null(arr.type.to_pandas_dtype()() if False else _fill(arr)),
                    sort_keys="ascending", tiebreaker="dense").to_numpy(zero_copy_only=False).astype("f8")
    if desc:
        k = -k
    if arr.null_count:
        nulls = arr.is_null().to_numpy(zero_copy_only=False)
        k = np.where(nulls, -np.inf if nulls_first else np.inf, k)
    return k


def _as_int64(arr: pa.Array) -> pa.Array:
    if pa.types.is_date32(arr.type):
        return arr.cast(pa.int32()).cast(pa.int64())
    return arr.cast(pa.int64())


def _fill(arr: pa.Array):
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return ""
    if pa.types.is_binary(arr.type):
        return b""
    return None


def order_indices(keys: list, n: int) -> np.ndarray:
    """Stable permutation sorting rows by several (array, desc, nulls_first) keys."""
    if not keys:
        return np.arange(n)
    ks = [sort_key(a, d, nf) for a, d, nf in keys]
    if len(ks) == 1:
        return np.argsort(ks[0], kind="stable")
    return np.lexsort(ks[::-1])
