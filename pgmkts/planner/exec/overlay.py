"""Read-your-own-writes inside a transaction: a bucket read merged with the session's buffered
(uncommitted) writes and deletes, with storage semantics (fixed: last write wins per slot;
variable: append, sorted by time)."""

from __future__ import annotations

import numpy as np


def _key(tbk: str) -> str:
    try:
        from pgmkts.storage import TBK
        return str(TBK.parse(tbk))
    except Exception:
        return tbk


def pending_for(session, tbk: str) -> list:
    """The open transaction's operations touching `tbk`, in order."""
    if session is None or getattr(session, "txn_status", "I") != "T" or not getattr(session, "_pending", None):
        return []
    k = _key(tbk)
    out = []
    for kind, arg in session._pending:
        if kind == "write":
            for t, data, var in arg:
                if _key(t) == k:
                    out.append(("write", (data, var)))
        elif _key(arg[0]) == k:
            out.append(("delete", arg))
    return out


def pending_tbks(session) -> set[str]:
    if session is None or getattr(session, "txn_status", "I") != "T":
        return set()
    return {t for kind, arg in getattr(session, "_pending", []) if kind == "write" for t, _d, _v in arg}


def _ns(d: dict) -> np.ndarray:
    ns = d["Epoch"].astype(np.int64) * 1_000_000_000
    if "Nanoseconds" in d:
        ns = ns + d["Nanoseconds"].astype(np.int64)
    return ns


def merge(base: dict | None, ops: list, *, tf_seconds: int, variable: bool, start_ns, end_ns,
          limit: int | None, from_end: bool) -> dict:
    """Apply ops to the committed rows `base` (read without a limit), then range and limit."""
    cols = list(base.keys()) if base is not None else None
    cur = {k: np.asarray(v) for k, v in base.items()} if base is not None else None
    for kind, arg in ops:
        if kind == "delete":
            if cur is None:
                continue
            _t, s, e = arg
            ns = _ns(cur)
            inside = np.ones(len(ns), bool)
            if s is not None:
                inside &= ns >= s
            if e is not None:
                inside &= ns <= e
            cur = {k: v[~inside] for k, v in cur.items()}
            continue
        data, _var = arg
        if cols is None:
            cols = list(data.keys())
        new = {k: np.asarray(data[k]) for k in cols if k in data}
        if not variable:
            ep = new["Epoch"] - new["Epoch"] % tf_seconds
            new["Epoch"] = ep
            # within the batch, the last record of a slot wins
            _u, last = np.unique(ep[::-1], return_index=True)
            idx = np.sort(len(ep) - 1 - last)
            new = {k: v[idx] for k, v in new.items()}
            if cur is not None and len(cur["Epoch"]):
                taken = np.isin(cur["Epoch"], new["Epoch"])
                cur = {k: v[~taken] for k, v in cur.items()}
        if cur is None:
            cur = new
        else:
            cur = {k: np.concatenate([cur[k], new[k].astype(cur[k].dtype)]) for k in cur if k in new}
        order = np.argsort(_ns(cur), kind="stable")
        cur = {k: v[order] for k, v in cur.items()}
    if cur is None:
        return {}
    ns = _ns(cur)
    keep = np.ones(len(ns), bool)
    if start_ns is not None:
        keep &= ns >= start_ns
    if end_ns is not None:
        keep &= ns <= end_ns
    cur = {k: v[keep] for k, v in cur.items()}
    if limit is not None:
        n = len(cur["Epoch"])
        sl = slice(max(n - limit, 0), n) if from_end else slice(0, limit)
        cur = {k: v[sl] for k, v in cur.items()}
    return cur
