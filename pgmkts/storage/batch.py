"""Write batches: validation and normalisation (coercion, flooring, last-write-wins, tick
order) and their WAL encoding (a JSON header plus raw column bytes; consecutive fixed-bucket
epochs are logged as their first value only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from pgmkts import errors
from pgmkts.storage.bucket import EPOCH_MAX, EPOCH_MIN, NS, YEAR_STARTS, year_index, year_of
from pgmkts.storage.catalog import TYPE_CODES, BucketInfo, code_for_array, make_info, validate_columns
from pgmkts.storage.names import TBK
from pgmkts.storage.timeframe import timeframe_seconds


class Prepared:
    """One normalised write batch, ready for the WAL and the apply."""

    __slots__ = ("info", "create", "arrays", "nrows")

    def __init__(self, info: BucketInfo, create: bool, arrays: dict[str, np.ndarray], nrows: int):
        self.info = info
        self.create = create
        self.arrays = arrays  # Epoch, data columns, [Nanoseconds]; contiguous, bucket dtypes
        self.nrows = nrows  # rows the caller sent


def prepare(tbk: str, data: Mapping[str, np.ndarray], variable: bool | None,
            known: Callable[[str], BucketInfo | None], overlay: dict[str, BucketInfo]) -> Prepared:
    """Validate and normalise one write batch against the bucket's schema (`known`, or the
    `overlay` of buckets created earlier in the same write_many; a first write creates one)."""
    t = TBK.parse(tbk)
    key = str(t)
    if not isinstance(data, Mapping):
        raise errors.InvalidParameterValue("write data must be a mapping of column name to array")
    arrays: dict[str, np.ndarray] = {}
    n = -1
    for name, v in data.items():
        if not isinstance(name, str):
            raise errors.InvalidParameterValue(f"column names must be strings, not {name!r}")
        a = np.asarray(v)
        if a.ndim != 1:
            raise errors.InvalidParameterValue(f"column {name!r} must be one-dimensional")
        if n >= 0 and len(a) != n:
            raise errors.InvalidParameterValue(
                f"columns have different lengths ({name!r} has {len(a)}, expected {n})")
        n = len(a)
        arrays[name] = a
    if "Epoch" not in arrays:
        raise errors.SchemaMismatch("unable to match data columns: 'Epoch' is missing")
    info = overlay.get(key) or known(key)
    create = False
    if info is None:
        var = bool(variable)
        skip = {"Epoch", "Nanoseconds"} if var else {"Epoch"}
        cols = validate_columns([(c, code_for_array(c, a)) for c, a in arrays.items() if c not in skip], var)
        info = make_info(t, timeframe_seconds(t.timeframe), var, cols)
        create = True
        overlay[key] = info
    var = info.variable_length
    expected = [c for c, _ in info.data_columns]
    given = [c for c in arrays if c != "Epoch" and not (var and c == "Nanoseconds")]
    if set(given) != set(expected):
        raise errors.SchemaMismatch(
            f"unable to match data columns for {key}: expected {['Epoch', *expected]}, "
            f"got {list(arrays)}")
    epoch = _coerce_epoch(arrays["Epoch"])
    out: dict[str, np.ndarray] = {}
    for c, code in info.data_columns:
        out[c] = _coerce(c, arrays[c], TYPE_CODES[code])
    if n == 0:
        out["Epoch"] = epoch
        if var:
            out["Nanoseconds"] = np.zeros(0, np.int32)
        return Prepared(info, create, out, 0)
    # one row (a durable append): numpy's reductions cost more than the row itself
    lo, hi = (int(epoch[0]),) * 2 if n == 1 else (int(epoch.min()), int(epoch.max()))
    if lo < EPOCH_MIN or hi > EPOCH_MAX:
        raise errors.DatetimeFieldOverflow(
            f"Epoch out of range: storable years are 1678..2261 (got {lo}..{hi})")
    if var:
        if "Nanoseconds" in arrays:
            nanos = _coerce("Nanoseconds", arrays["Nanoseconds"], np.dtype(np.int32))
            if int(nanos.min()) < 0 or int(nanos.max()) >= NS:
                raise errors.InvalidParameterValue("Nanoseconds must be in 0..999999999")
        else:
            nanos = np.zeros(n, np.int32)
        keys = epoch * NS + nanos
        if n > 1 and not bool(np.all(keys[1:] >= keys[:-1])):
            order = np.argsort(keys, kind="stable")  # stable: equal times keep batch order
            epoch, nanos = epoch[order], nanos[order]
            out = {c: a[order] for c, a in out.items()}
        out["Nanoseconds"] = nanos
        arranged = {"Epoch": epoch, **out}
    else:
        # floor to the timeframe, counted from each UTC year's start (MarketStore's slots);
        # year starts are whole days, so for timeframes dividing a day that is a plain modulo
        tf = info.tf_seconds
        if 86400 % tf == 0 and _consecutive_slots(epoch, tf):
            pass  # a bulk load's usual shape: flooring changes nothing (one subtraction, no division)
        elif 86400 % tf == 0:
            epoch = epoch - epoch % tf
        else:
            ylo, yhi = year_index(np.array([lo, hi]))
            ys = YEAR_STARTS[ylo] if ylo == yhi else YEAR_STARTS[year_index(epoch)]
            epoch = ys + (epoch - ys) // tf * tf
        if n > 1 and not bool((epoch[1:] > epoch[:-1]).all()):
            order = np.argsort(epoch, kind="stable")
            se = epoch[order]
            last = np.ones(n, bool)
            last[:-1] = se[1:] != se[:-1]  # the last occurrence of each slot wins
            keep = order[last]
            epoch = epoch[keep]
            out = {c: a[keep] for c, a in out.items()}
        arranged = {"Epoch": epoch, **out}
    arranged = {c: np.ascontiguousarray(a) for c, a in arranged.items()}
    return Prepared(info, create, arranged, n)


def _consecutive_slots(epoch: np.ndarray, tf: int) -> bool:
    """Every epoch on a slot boundary and one slot after the previous (tf divides a day, so slots
    are multiples of tf): the int64 modulo of the floor costs ~6x this check."""
    if int(epoch[0]) % tf or int(epoch[-1]) - int(epoch[0]) != (len(epoch) - 1) * tf:
        return False
    return len(epoch) < 2 or bool((np.subtract(epoch[1:], epoch[:-1]) == tf).all())


# ------------------------------------------------------------------ apply (LSN order)


def _coerce_epoch(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "O":  # e.g. Python ints from a driver: accept whole numbers only
        try:
            a = np.array(a.tolist())
        except (TypeError, ValueError) as exc:
            raise errors.InvalidParameterValue("Epoch must be integer seconds") from exc
    k = a.dtype.kind
    if k == "M":
        return a.astype("datetime64[s]").astype(np.int64)
    if k in "iu":
        return a.astype(np.int64, copy=False)
    if k == "f" and len(a) and bool(np.all(np.isfinite(a))) and bool(np.all(a == np.floor(a))):
        return a.astype(np.int64)
    if k == "f" and not len(a):
        return a.astype(np.int64)
    raise errors.InvalidParameterValue(f"Epoch must be integer seconds, not {a.dtype}")


def _coerce(name: str, a: np.ndarray, dt: np.dtype) -> np.ndarray:
    if a.dtype == dt:
        return a
    try:
        if dt.kind == "U":
            if a.dtype.kind in "US":
                return a.astype(dt)
            if a.dtype.kind == "O":
                return np.array([("" if v is None else str(v)) for v in a.tolist()], dtype=dt)
            raise TypeError
        if a.dtype.kind in "USMm":  # text and times are not numbers (widths are coerced, kinds not)
            raise TypeError
        return a.astype(dt)  # object arrays of Python numbers/bools convert; None raises
    except (TypeError, ValueError) as exc:
        raise errors.DatatypeMismatch(
            f"column {name!r}: cannot store {a.dtype} values in a {dt.str.lstrip('<|')} column") from exc


def info_header(info: BucketInfo) -> dict:
    return {"tbk": info.tbk, "tf": info.tf_seconds, "var": info.variable_length,
            "cols": [list(c) for c in info.data_columns]}


def info_from_header(h: dict) -> BucketInfo:
    return make_info(TBK.parse(h["tbk"]), int(h["tf"]), bool(h["var"]), [(n, t) for n, t in h["cols"]])


def encode_batches(preps: list[Prepared]) -> tuple[dict, list]:
    header: dict[str, list] = {"b": []}
    bufs: list = []
    for p in preps:
        h = info_header(p.info)
        ep = p.arrays["Epoch"]
        n = len(ep)
        h["n"] = n
        h["rows"] = p.nrows
        order = list(p.arrays)
        tf = p.info.tf_seconds
        if not p.info.variable_length and n > 1 and int(ep[-1]) - int(ep[0]) == (n - 1) * tf \
                and year_of(int(ep[0])) == year_of(int(ep[-1])):
            # sorted, unique, one year, span == count: consecutive slots; log only the first epoch
            h["e0"] = int(ep[0])
            order.remove("Epoch")
        h["order"] = order
        header["b"].append(h)
        for c in order:
            a = p.arrays[c]
            if len(a):
                bufs.append(a.reshape(-1).view(np.uint8))
    return header, bufs


def decode_batches(header: dict, body: memoryview) -> list[Prepared]:
    preps = []
    off = 0
    for h in header["b"]:
        info = info_from_header(h)
        n = int(h["n"])
        dts = {c: TYPE_CODES[t] for c, t in info.columns}
        arrays = {}
        if "e0" in h:
            arrays["Epoch"] = int(h["e0"]) + info.tf_seconds * np.arange(n, dtype=np.int64)
        for c in h["order"]:
            dt = dts[c]
            nb = n * dt.itemsize
            arrays[c] = np.frombuffer(body, dtype=dt, count=n, offset=off) if n else np.empty(0, dt)
            off += nb
        preps.append(Prepared(info, False, arrays, int(h["rows"])))
    return preps
