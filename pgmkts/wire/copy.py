"""COPY sub-protocol payloads, sans-I/O (docs §55.2.6 "COPY Operations", COPY's file formats).

Out: batches → CopyData messages (text/csv: one row per message; binary: PGCOPY header, tuples,
trailer). In: CopyData bytes → one pyarrow Table (pyarrow's CSV reader for text/csv, numpy for
binary: types/tuples.py), handed whole to CopySpec.consume so a COPY is all rows or none.
"""

from __future__ import annotations

import struct

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pgmkts.errors import BadCopyFileFormat
from pgmkts.wire import messages as m
from pgmkts.wire.types import encode_binary
from pgmkts.wire.types.core import assemble, frame_var
from pgmkts.wire.types.parse import arrow_type, parse_column
from pgmkts.wire.types.text import encode_text
from pgmkts.wire.types.tuples import SIGNATURE as BINARY_SIGNATURE
from pgmkts.wire.types.tuples import parse_binary

BINARY_HEADER = BINARY_SIGNATURE + struct.pack("!ii", 0, 0)
_STRINGY = (25, 1043, 19, 18, 0)


def options(spec) -> dict:
    o = dict(spec.options or {})
    csv = spec.format == "csv"
    o.setdefault("delimiter", "," if csv else "\t")
    o.setdefault("null", "" if csv else "\\N")
    o.setdefault("quote", '"')
    o.setdefault("escape", o["quote"])
    o["header"] = bool(o.get("header", False))
    return o


# ---------------------------------------------------------------- COPY TO STDOUT
class CopyOutEncoder:
    def __init__(self, spec, tz: str = "UTC") -> None:
        self.fmt = spec.format
        self.fields = list(spec.fields)
        self.oids = [f.type_oid for f in self.fields]
        self.opts = options(spec)
        self.tz = tz
        self.rows = 0
        # PostgreSQL sends the binary header inside the first row's CopyData (psycopg's
        # Copy.rows() strips the signature from the first message and parses a row from the rest)
        self._header_pending = self.fmt == "binary"

    def _with_header(self, data: bytes) -> bytes:
        if not self._header_pending or not data:
            return data
        self._header_pending = False
        (length,) = struct.unpack_from("!i", data, 1)
        return b"d" + struct.pack("!i", length + len(BINARY_HEADER)) + BINARY_HEADER + data[5:]

    def replayed(self, rows: int, data: bytes) -> None:
        """`data`, an earlier encoder's whole output for the same rows and options, goes out in
        place of encode()'s: count its rows, and the binary header its first row carried."""
        self.rows += rows
        if data:
            self._header_pending = False

    def response(self) -> bytes:
        return m.copy_response(b"H", self.fmt == "binary", len(self.fields))

    def header(self) -> bytes:
        if self.fmt == "csv" and self.opts["header"]:
            names = pa.array([f.name for f in self.fields])
            row = self.opts["delimiter"].join(self._csv_quote(names, 25).to_pylist()) + "\n"
            return m.copy_data(row.encode())
        return b""

    def trailer(self) -> bytes:
        return self._with_header(m.copy_data(struct.pack("!h", -1))) if self.fmt == "binary" else b""

    def _csv_quote(self, s: pa.Array, oid: int, force: bool = False) -> pa.Array:
        q, esc, d = self.opts["quote"], self.opts["escape"], self.opts["delimiter"]
        if oid not in _STRINGY and not force and oid not in (17, 1186) and oid < 1000:
            return s      # numbers, booleans, timestamps never contain a delimiter or quote
        quoted = pc.binary_join_element_wise(q, pc.replace_substring(pc.replace_substring(s, esc, esc + esc)
                                                                     if esc != q else s, q, esc + q), q, "")
        if force:
            return quoted
        special = pc.or_(pc.match_substring_regex(s, "[" + "".join("\\" + c for c in {q, d, "\r", "\n"}) + "]"),
                         pc.equal(s, self.opts["null"]))
        return pc.if_else(special, quoted, s)

    def _text_escape(self, s: pa.Array, oid: int) -> pa.Array:
        if oid not in _STRINGY and oid != 17 and oid < 1000:
            return s
        # COPY text format: backslash escapes for \\, newline, CR, tab and the delimiter
        s = pc.replace_substring(s, "\\", "\\\\")
        for ch, rep in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            s = pc.replace_substring(s, ch, rep)
        d = self.opts["delimiter"]
        if d not in ("\t", "\\"):
            s = pc.replace_substring(s, d, "\\" + d)
        return s

    def encode(self, batch: pa.RecordBatch) -> bytes:
        n = batch.num_rows
        if n == 0:
            return b""
        self.rows += n
        if self.fmt == "binary":
            cols = [encode_binary(batch.column(i), self.oids[i]) for i in range(batch.num_columns)]
            return self._with_header(assemble(cols, n, type_byte=b"d", count=True))
        force = self.opts.get("force_quote") or ()
        parts = []
        for i in range(batch.num_columns):
            s = encode_text(batch.column(i), self.oids[i], self.tz)
            if self.fmt == "csv":
                fq = force == "*" or force is True or self.fields[i].name in force
                s = self._csv_quote(s, self.oids[i], bool(fq))
            else:
                s = self._text_escape(s, self.oids[i])
            parts.append(pc.fill_null(s, self.opts["null"]))
        rows = pc.binary_join_element_wise(*parts, self.opts["delimiter"])
        rows = pc.binary_join_element_wise(rows, "\n", "")
        return frame_var(rows, b"d")


# ---------------------------------------------------------------- COPY FROM STDIN
class CopyInDecoder:
    """Collects CopyData payloads; `table()` parses them into one Table for CopySpec.consume."""

    def __init__(self, spec, tz: str = "UTC", max_bytes: int | None = None) -> None:
        self.fmt = spec.format
        self.fields = list(spec.fields)
        self.opts = options(spec)
        self.tz = tz
        self.max_bytes = max_bytes
        # CopyData bodies, appended in place (Framer.copy_into / feed_copy write slices of the
        # socket buffers here): no bytes object per message and no final join. Growing a large
        # bytearray is a realloc that glibc does with mremap, without copying the data.
        self.sink = bytearray()

    def response(self) -> bytes:
        return m.copy_response(b"G", self.fmt == "binary", len(self.fields))

    def feed(self, data) -> None:
        self.sink += data

    def table(self) -> pa.Table:
        data = self.sink
        self.sink = bytearray()
        if self.fmt == "binary":
            return parse_binary(data, self.fields)
        return self._parse_text(bytes(data))

    def _parse_text(self, data: bytes) -> pa.Table:
        names = [f.name for f in self.fields]
        # protocol-3 clients normally stop at CopyDone, but an old-style end marker line is legal
        if data.startswith(b"\\.\n") or data.startswith(b"\\.\r\n"):
            data = b""
        else:
            cut = data.find(b"\n\\.\n")
            if cut >= 0:
                data = data[:cut + 1]
        if not data.strip(b"\r\n"):
            return pa.table({n: pa.array([], arrow_type(f.type_oid)) for n, f in zip(names, self.fields,
                                                                                      strict=True)})
        csv = self.fmt == "csv"
        o = self.opts
        esc = o["escape"] if csv and o["escape"] != o["quote"] else False
        read = pacsv.ReadOptions(column_names=names, skip_rows=1 if o["header"] else 0, block_size=1 << 24)
        # a newline inside a value needs a quoted value: without any quote character in the data
        # (one memchr) the reader may split blocks at newlines, which it parses faster
        quoted = csv and data.find(o["quote"].encode()) >= 0
        parse = pacsv.ParseOptions(delimiter=o["delimiter"], quote_char=o["quote"] if csv else False,
                                   double_quote=csv, escape_char=esc, newlines_in_values=quoted)

        def convert(types: dict) -> pacsv.ConvertOptions:
            return pacsv.ConvertOptions(column_types=types, null_values=[o["null"]], strings_can_be_null=True,
                                        quoted_strings_can_be_null=False)

        # Fast path: let the (multi-threaded) CSV reader convert numbers and timestamps itself.
        # Anything it refuses (naive timestamps, bad values) is re-read as strings so
        # parse_column can apply PostgreSQL's rules and name the offending column.
        typed = {f.name: arrow_type(f.type_oid) for f in self.fields
                 if f.type_oid in _CSV_NATIVE and not (f.type_oid in _STRINGY and not csv)}
        if typed:
            try:
                tbl = pacsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=parse,
                                     convert_options=convert({n: typed.get(n, pa.string()) for n in names}))
                return self._finish(tbl, csv, skip=set(typed))
            except pa.ArrowInvalid:
                pass
        try:
            tbl = pacsv.read_csv(pa.BufferReader(data), read_options=read, parse_options=parse,
                                 convert_options=convert({n: pa.string() for n in names}))
        except pa.ArrowInvalid as e:
            raise BadCopyFileFormat(f"COPY {self.fmt} input: {str(e).splitlines()[0]}",
                                    hint=f"the COPY columns are: {', '.join(names)}") from None
        return self._finish(tbl, csv, skip=set())

    def _finish(self, tbl: pa.Table, csv: bool, skip: set) -> pa.Table:
        cols = {}
        for f in self.fields:
            col = tbl.column(f.name).combine_chunks()
            if f.name in skip:
                cols[f.name] = col
                continue
            if not csv and f.type_oid in _STRINGY and pc.any(pc.match_substring(col, "\\")).as_py():
                col = _unescape_text(col)
            cols[f.name] = parse_column(col, f.type_oid, f.name, self.tz)
        return pa.table(cols)


# types the CSV reader converts exactly as PostgreSQL would read them (bool/bytea/text need our rules)
_CSV_NATIVE = {20, 21, 23, 700, 701, 1700, 1184, 1082}


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "\\": "\\"}


def _unescape_text(col: pa.Array) -> pa.Array:
    """COPY text backslash escapes; only string columns that contain a backslash get here."""
    import re

    pat = re.compile(r"\\(.)", re.S)
    return pa.array([None if v is None else pat.sub(lambda mt: _ESCAPES.get(mt.group(1), mt.group(1)), v)
                     for v in col.to_pylist()], pa.string())
