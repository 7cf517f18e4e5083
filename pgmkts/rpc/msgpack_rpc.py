"""MarketStore's msgpack JSON-RPC (`POST /rpc`) as pymarketstore 0.22 sends and reads it:
DataService.Query/Write/Create/Destroy/ListSymbols/GetInfo. Column data travels as one packed
little-endian buffer per column; decoding and encoding are numpy per column, never per row."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import msgpack
import numpy as np

from pgmkts import errors
from pgmkts.rpc.codec import (
    DEFAULT_CATEGORY,
    decode_dataset,
    dtype_code,
    encode_query_result,
    pack_pieces,
    parse_type,
    sql_result_columns,
)

log = logging.getLogger("pgmkts.rpc")

NO_FILES = "no files returned from query parse"
_NS_LIMIT = 2**63 - 1
INLINE_WRITE_BYTES = 64 << 10  # Write bodies up to this run on the event loop (a few hundred rows)
# MarketStore's on-disk timeframes; a query for another one reads the largest that divides it
STANDARD_TIMEFRAMES = (("1Sec", 1), ("10Sec", 10), ("30Sec", 30), ("1Min", 60), ("5Min", 300),
                       ("15Min", 900), ("30Min", 1800), ("1H", 3600), ("2H", 7200), ("4H", 14400),
                       ("1D", 86400))
# Go's EnumElementType numbers (GetInfo's DSV)
_GO_TYPE = {"f4": 0, "i4": 1, "f8": 2, "i8": 3, "i1": 5, "bool": 6, "i2": 9, "u1": 10, "u2": 11,
            "u4": 12, "u8": 13, "U16": 14}


class RpcError(Exception):
    """An error reply for the whole call (the client raises it)."""

    def __init__(self, message: str, code: int = -32000) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _storage():
    # imported lazily so the RPC package imports even while storage is being rebuilt
    from pgmkts import storage

    return storage


def _err_text(exc: BaseException) -> str:
    if isinstance(exc, errors.PgmktsError):
        return exc.message
    return str(exc) or type(exc).__name__


def _split_key(key: Any, what: str = "key") -> tuple[str, str]:
    """"SYM/TF/AG[:category]" → ("SYM/TF/AG", category)."""
    if not isinstance(key, str) or not key:
        raise RpcError(f"{what} must be a non-empty string, got {type(key).__name__}")
    base, _, category = key.partition(":")
    return base, category or DEFAULT_CATEGORY


def _opt_int(req: dict, name: str) -> int | None:
    v = req.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise RpcError(f"{name} must be an integer, got {type(v).__name__}")
    return v


class RpcService:
    """Stateless dispatcher; `handle` runs in a worker thread (numpy and engine calls block)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._tls = threading.local()  # per-request state: handle() runs in several threads at once
        self.methods = {
            "DataService.Query": self.query,
            "DataService.Write": self.write,
            "DataService.Create": self.create,
            "DataService.Destroy": self.destroy,
            "DataService.ListSymbols": self.list_symbols,
            "DataService.GetInfo": self.get_info,
        }

    # --- envelope
    @property
    def _rows_out(self) -> int:
        """Rows returned by the request this thread is handling (for the rows_out metric)."""
        return getattr(self._tls, "rows_out", 0)

    @_rows_out.setter
    def _rows_out(self, n: int) -> None:
        self._tls.rows_out = n

    @property
    def engine(self):
        return self.app.engine

    @property
    def version(self) -> str:
        return str(getattr(self.app, "version", "") or "")

    @property
    def timezone(self) -> str:
        return str(getattr(getattr(self.app, "config", None), "timezone", None) or "UTC")

    def _queryable(self) -> None:
        if getattr(getattr(self.app, "config", None), "queryable", True) is False:
            raise RpcError("server is not queryable")

    def handle(self, body: bytes | memoryview, role: str = "readwrite") -> tuple[list, int, bool]:
        """One request body → (reply as a list of buffers, rows returned, was it a query)."""
        req_id: Any = None
        method = None
        self._rows_out = 0
        try:
            try:
                req = msgpack.unpackb(body, raw=False, strict_map_key=False)
            except Exception as exc:
                raise RpcError(f"rpc: parse error: {exc}", -32700) from None
            if not isinstance(req, dict):
                raise RpcError("rpc: request must be a map", -32600)
            req_id = req.get("id")
            method = req.get("method")
            if not isinstance(method, str):
                raise RpcError("rpc: request has no method", -32600)
            fn = self.methods.get(method)
            if fn is None:
                raise RpcError(f'rpc: can\'t find method "{method}"')
            params = req.get("params", {})
            if isinstance(params, list) and len(params) == 1:  # JSON-RPC positional form
                params = params[0]
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise RpcError("rpc: params must be a map", -32600)
            if method in ("DataService.Write", "DataService.Create", "DataService.Destroy") \
                    and role == "readonly":
                raise RpcError(f"permission denied: {method} needs a readwrite user")
            result = fn(params)
            reply = {"jsonrpc": "2.0", "result": result, "id": req_id}
        except RpcError as exc:
            reply = self._error(exc.code, exc.message, req_id)
        except errors.PgmktsError as exc:
            reply = self._error(-32000, exc.message, req_id)
        except Exception as exc:  # a bug must not kill the connection; say what happened
            log.exception("RPC %s failed", method)
            reply = self._error(-32000, f"internal error: {type(exc).__name__}: {exc}", req_id)
        if "error" in reply:
            metrics = getattr(self.app, "metrics", None)
            if metrics is not None and hasattr(metrics, "error"):
                metrics.error("rpc")
        return pack_pieces(reply), self._rows_out, method == "DataService.Query"

    def small_write(self, body: bytes | memoryview) -> bool:
        """A DataService.Write body small enough to decode and log on the event loop (its commit
        then awaits the fsync there, storage/asyncwrite.py): reads the envelope's keys only."""
        if len(body) > INLINE_WRITE_BYTES:
            return False
        u = msgpack.Unpacker(raw=False)
        u.feed(body)
        try:
            for _ in range(u.read_map_header()):
                if u.unpack() == "method":
                    return u.unpack() == "DataService.Write"
                u.skip()
        except Exception:  # malformed: handle() answers the parse error (in a worker)
            return False
        return False

    def failed(self, body: bytes | memoryview, exc: errors.PgmktsError) -> tuple[list, int, bool]:
        """The reply once a deferred write's commit failed after `handle` answered it."""
        try:
            req_id = msgpack.unpackb(body, raw=False, strict_map_key=False).get("id")
        except Exception:
            req_id = None
        return pack_pieces(self._error(-32000, exc.message, req_id)), 0, False

    @staticmethod
    def _error(code: int, message: str, req_id: Any) -> dict:
        return {"jsonrpc": "2.0", "error": {"code": code, "message": message, "data": None}, "id": req_id}

    # --- Query
    def query(self, params: dict) -> dict:
        self._queryable()
        requests = params.get("requests")
        if not isinstance(requests, list):
            raise RpcError("requests must be a list of query requests")
        responses = []
        for r in requests:
            if not isinstance(r, dict):
                raise RpcError("each query request must be a map")
            if r.get("is_sqlstatement"):
                responses.append({"result": self._query_sql(r)})
            else:
                responses.append({"result": self._query_one(r)})
        return {"responses": responses, "version": self.version, "timezone": self.timezone}

    def _resolve_timeframe(self, symbols: list[str], tf: str, ag: str) -> tuple[str, int]:
        """(timeframe actually read, limit multiplier). MarketStore reads the largest standard
        timeframe dividing the requested one (3Min → 1Min); we do so only when no bucket of the
        requested timeframe exists, since pgmkts can store any timeframe."""
        storage = _storage()
        tf_s = storage.timeframe_seconds(tf)
        if any(tf == name for name, _ in STANDARD_TIMEFRAMES):
            return tf, 1
        if any(self.engine.info(f"{s}/{tf}/{ag}") is not None for s in symbols):
            return tf, 1
        for name, secs in reversed(STANDARD_TIMEFRAMES):
            if tf_s % secs == 0:
                return name, tf_s // secs
        return tf, 1

    def _query_one(self, r: dict) -> dict:
        storage = _storage()
        dest, category = _split_key(r.get("destination"), "destination")
        kc = r.get("key_category")
        if isinstance(kc, str) and kc:
            category = kc
        if category != DEFAULT_CATEGORY:
            raise RpcError(f"unsupported key category {category!r}; only {DEFAULT_CATEGORY} is supported")
        parts = dest.split("/")
        if len(parts) != 3 or not all(parts):
            raise RpcError(f"destinations must have a Symbol, Timeframe and AttributeGroup, have: {dest}")
        sym_part, tf, ag = parts
        symbols = [s for s in sym_part.split(",") if s]
        if symbols == ["*"]:
            symbols = sorted({b.symbol for b in self.engine.buckets()
                              if b.timeframe == tf and b.attrgroup == ag})
        else:
            symbols = list(dict.fromkeys(symbols))  # keep order, no dups
        for s in symbols:  # validate every name before touching storage (hostile names → error)
            storage.TBK.parse(f"{s}/{tf}/{ag}")
        read_tf, limit_scale = self._resolve_timeframe(symbols, tf, ag) if symbols else (tf, 1)

        start_s, start_n = _opt_int(r, "epoch_start"), _opt_int(r, "epoch_start_nanos") or 0
        end_s, end_n = _opt_int(r, "epoch_end"), _opt_int(r, "epoch_end_nanos") or 0
        limit = _opt_int(r, "limit_record_count") or 0
        if limit < 0:
            raise RpcError("limit_record_count must be >= 0")
        from_start = bool(r.get("limit_from_start") or False)
        columns = r.get("columns") or []
        functions = r.get("functions") or []
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise RpcError("columns must be a list of strings")
        if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
            raise RpcError("functions must be a list of strings")

        datasets: list[tuple[str, dict[str, np.ndarray]]] = []
        for s in symbols:
            tbk = f"{s}/{read_tf}/{ag}"
            info = self.engine.info(tbk)
            if info is None:
                continue  # MarketStore drops missing symbols of a multi-symbol query silently
            tf_s = info.tf_seconds
            if info.variable_length:
                lo = None if start_s is None else start_s * 1_000_000_000 + start_n
                hi = None if end_s is None else end_s * 1_000_000_000 + end_n
            else:
                # fixed rows sit at slot starts; MarketStore addresses the slot holding `start`
                lo = None if start_s is None else (start_s - start_s % tf_s if tf_s < 86400 else start_s) \
                    * 1_000_000_000
                hi = None if end_s is None else end_s * 1_000_000_000 + 999_999_999
            # clients send MaxInt64 seconds for "no end": keep the bounds inside int64 nanoseconds
            lo = None if lo is None else max(lo, -_NS_LIMIT)
            hi = None if hi is None else min(hi, _NS_LIMIT)
            proj = None
            if columns:
                have = {name for name, _ in info.columns}
                proj = [c for c in columns if c in have and c not in ("Epoch", "Nanoseconds")]
            try:
                data = self.engine.read(tbk, lo, hi, columns=proj, limit=(limit * limit_scale) or None,
                                        from_end=not from_start)
            except errors.BucketNotFound:
                continue  # destroyed between info() and read()
            if columns:
                keep = ["Epoch", *[c for c in columns if c in data and c not in ("Epoch", "Nanoseconds")]]
                if "Nanoseconds" in data:
                    keep.append("Nanoseconds")
                data = {c: data[c] for c in keep}
            if functions:
                from pgmkts.uda import apply_functions

                data = apply_functions(data, functions, tf_seconds=tf_s, timezone=self.timezone)
            datasets.append((tbk, data))
        if not datasets:
            raise RpcError(NO_FILES)
        self._check_result_rows(sum(len(d["Epoch"]) if "Epoch" in d else 0 for _, d in datasets))
        result, rows = encode_query_result(datasets)
        self._rows_out += rows
        return result

    def _check_result_rows(self, n: int) -> None:
        limits = getattr(getattr(self.app, "config", None), "limits", None)
        cap = getattr(limits, "max_result_rows", 0) or 0
        if isinstance(cap, int) and cap > 0 and n > cap:
            raise RpcError(f"query returned {n} rows, more than limits.max_result_rows ({cap}); "
                           "narrow the time range or set limit_record_count")

    def _query_sql(self, r: dict) -> dict:
        sql = r.get("sql_statement")
        if not isinstance(sql, str) or not sql.strip():
            raise RpcError("sql_statement must be a non-empty string")
        try:
            from pgmkts.planner.session import Session
        except ImportError as exc:
            raise RpcError(f"SQL statements are not available in this build: {exc}") from None

        session = Session(self.engine)
        last = None
        for res in session.execute(sql):
            if res.fields is not None:
                last = res
            else:
                for _ in res.batches or ():  # drain DML/DDL results so they run
                    pass
        if last is None:
            raise RpcError("SQL statement returned no rows; only queries can be sent through Query")
        data = sql_result_columns(last)
        self._check_result_rows(len(data["Epoch"]))
        result, rows = encode_query_result([(f"{sql}:SQL", data)], keyed=True)
        self._rows_out += rows
        return result

    # --- Write
    def write(self, params: dict) -> dict:
        requests = params.get("requests")
        if not isinstance(requests, list):
            raise RpcError("requests must be a list of write requests")
        responses = []
        metrics = getattr(self.app, "metrics", None)
        for r in requests:
            try:
                if not isinstance(r, dict):
                    raise RpcError("each write request must be a map")
                is_var = r.get("is_variable_length", False)
                if not isinstance(is_var, bool):
                    raise RpcError("is_variable_length must be a boolean")
                batches = decode_dataset(r.get("dataset"))
                for tbk, _ in batches:
                    _storage().TBK.parse(tbk)
                # one WAL frame per request: a multi-bucket dataset is written whole or not at all
                items = [(tbk, data, True if is_var else None) for tbk, data in batches]
                if len(items) == 1:
                    n = self.engine.write(items[0][0], items[0][1], variable_length=items[0][2])
                else:
                    n = self.engine.write_many(items)
                if metrics is not None:
                    metrics.rows_in("rpc", int(n or 0))
            except (RpcError, errors.PgmktsError, ValueError, TypeError, KeyError) as exc:
                responses.append({"error": _err_text(exc), "version": self.version})
        # MarketStore answers {"responses": nil} when every request succeeded
        return {"responses": responses or None}

    # --- Create / Destroy / GetInfo / ListSymbols
    def create(self, params: dict) -> dict:
        requests = params.get("requests")
        if not isinstance(requests, list):
            raise RpcError("requests must be a list of create requests")
        responses = []
        for r in requests:
            err = ""
            try:
                if not isinstance(r, dict):
                    raise RpcError("each create request must be a map")
                key = r.get("key")
                if not isinstance(key, str) or ":" not in key:
                    raise RpcError(f'key "{key}" is not in proper format, should be like: '
                                   "TSLA/1Min/OHLCV:Symbol/TimeFrame/AttributeGroup")
                tbk, _ = _split_key(key)
                names, types = r.get("column_names"), r.get("column_types")
                if not isinstance(names, list) or not isinstance(types, list) or len(names) != len(types):
                    raise RpcError("column_names and column_types must be lists of the same length")
                row_type = r.get("row_type")
                variable = row_type == "variable" if row_type is not None \
                    else bool(r.get("is_variable_length", False))
                cols = []
                for name, t in zip(names, types, strict=True):
                    if not isinstance(name, str) or not isinstance(t, str):
                        raise RpcError("column names and types must be strings")
                    dt = parse_type(t)
                    if name == "Epoch" or (variable and name == "Nanoseconds"):
                        continue
                    cols.append((name, dtype_code(dt)))
                _storage().TBK.parse(tbk)
                try:
                    self.engine.create(tbk, cols, variable_length=variable)
                except errors.PgmktsError as exc:
                    raise RpcError(f"creation of new catalog entry failed: {exc.message}") from None
            except (RpcError, errors.PgmktsError, ValueError, TypeError) as exc:
                err = _err_text(exc)
            responses.append({"error": err, "version": self.version})
        return {"responses": responses}

    def _key_requests(self, params: dict) -> list[Any]:
        requests = params.get("requests")
        if not isinstance(requests, list):
            raise RpcError("requests must be a list of key requests")
        return requests

    def destroy(self, params: dict) -> dict:
        responses = []
        for r in self._key_requests(params):
            err = ""
            try:
                key = r.get("key") if isinstance(r, dict) else None
                tbk, _ = _split_key(key)
                _storage().TBK.parse(tbk)
                try:
                    self.engine.destroy(tbk)
                except errors.PgmktsError as exc:
                    raise RpcError(f"removal of catalog entry failed: {exc.message}") from None
            except (RpcError, errors.PgmktsError) as exc:
                err = _err_text(exc)
            responses.append({"error": err, "version": self.version})
        return {"responses": responses}

    def get_info(self, params: dict) -> dict:
        responses = []
        for r in self._key_requests(params):
            try:
                key = r.get("key") if isinstance(r, dict) else None
                tbk, _ = _split_key(key)
                info = self.engine.info(str(_storage().TBK.parse(tbk)))
                if info is None:
                    raise RpcError(f"unable to get info about key {key}: bucket not found")
                last = self.engine.last_epoch(info.tbk)
                year = time.gmtime(last).tm_year if last is not None else time.gmtime().tm_year
                dsv = [{"Name": name, "Type": _GO_TYPE.get(dt, 3 if name == "Epoch" else 7)}
                       for name, dt in info.columns if not (info.variable_length and name == "Nanoseconds")]
                responses.append({"LatestYear": year, "TimeFrame": info.tf_seconds * 1_000_000_000,
                                  "DSV": dsv, "RecordType": 1 if info.variable_length else 0,
                                  "ServerResp": {"error": "", "version": self.version}})
            except (RpcError, errors.PgmktsError) as exc:
                responses.append({"LatestYear": 0, "TimeFrame": 0, "DSV": None, "RecordType": 0,
                                  "ServerResp": {"error": _err_text(exc), "version": self.version}})
        return {"responses": responses}

    def list_symbols(self, params: dict) -> dict:
        self._queryable()
        buckets = self.engine.buckets()
        if params.get("format") == "tbk":
            return {"Results": [b.tbk for b in buckets]}
        return {"Results": sorted({b.symbol for b in buckets})}
