"""COPY statement parsing (PostgreSQL's new and legacy option syntax) → CopySpec."""

from __future__ import annotations

import re

from pgmkts import errors

_HEAD = re.compile(
    r"""^\s*copy\s+(?P<target>\(.*\)|"(?:[^"]|"")+"|[\w.]+)\s*(?P<cols>\([^()]*\))?\s*
        (?P<dir>from\s+stdin|to\s+stdout|from\s+\S+|to\s+\S+)\s*(?P<rest>.*?)\s*;?\s*$""",
    re.I | re.S | re.X)


def parse_copy(sql: str) -> dict:
    m = _HEAD.match(sql)
    if not m:
        raise errors.SyntaxError_("syntax error in COPY (expected COPY table|(query) FROM STDIN|TO STDOUT)")
    target = m.group("target")
    direction = m.group("dir").lower().split()
    if direction[1] not in ("stdin", "stdout"):
        raise errors.FeatureNotSupported("COPY to or from a server file; use STDIN/STDOUT")
    opts = _options(m.group("rest"))
    fmt = str(opts.pop("format", "text")).lower()
    if fmt not in ("text", "csv", "binary"):
        raise errors.InvalidParameterValue(f'COPY format "{fmt}" not recognized')
    cols = None
    if m.group("cols"):
        cols = [_ident(c) for c in m.group("cols")[1:-1].split(",") if c.strip()]
    query = None
    table = None
    if target.startswith("("):
        query = target[1:-1]
        if direction[0] == "from":
            raise errors.SyntaxError_("COPY (query) FROM is not valid")
    else:
        table = target
    defaults = {"delimiter": "\t" if fmt == "text" else ",", "null": "\\N" if fmt == "text" else "",
                "header": False}
    if fmt == "csv":
        defaults.update({"quote": '"', "escape": opts.get("quote", '"')})
    defaults.update(opts)
    if fmt == "binary" and any(k in opts for k in ("delimiter", "null", "quote")):
        raise errors.SyntaxError_("cannot specify DELIMITER, NULL or QUOTE in BINARY mode")
    return {"direction": "in" if direction[0] == "from" else "out", "format": fmt, "options": defaults,
            "table": table, "query": query, "columns": cols}


def _ident(s: str) -> str:
    s = s.strip()
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1].replace('""', '"')
    return s.lower()


_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[^\s,()']+|[(),]""")


def _val(tok: str):
    if tok.startswith("'"):
        return tok[1:-1].replace("''", "'")
    low = tok.lower()
    if low in ("true", "on", "1"):
        return True
    if low in ("false", "off", "0"):
        return False
    return tok


def _options(rest: str) -> dict:
    rest = rest.strip()
    if rest.lower().startswith("with"):
        rest = rest[4:].strip()
    toks = _TOKEN.findall(rest)
    opts: dict = {}
    if toks and toks[0] == "(":
        # new syntax: ( name [value] [, ...] )
        i = 1
        while i < len(toks) and toks[i] != ")":
            name = toks[i].lower()
            i += 1
            val: object = True
            if i < len(toks) and toks[i] not in (",", ")"):
                val = _val(toks[i])
                i += 1
            if name == "force_quote" and val == "(":
                raise errors.FeatureNotSupported("FORCE_QUOTE column lists")
            opts[name] = val
            if i < len(toks) and toks[i] == ",":
                i += 1
        return _check(opts)
    # legacy: BINARY | CSV [HEADER] | DELIMITER [AS] 'x' | NULL [AS] 'x' | QUOTE ... | ESCAPE ...
    i = 0
    while i < len(toks):
        t = toks[i].lower()
        i += 1
        if t in ("binary", "csv"):
            opts["format"] = t
        elif t == "header":
            opts["header"] = True
        elif t in ("delimiter", "null", "quote", "escape", "encoding"):
            if i < len(toks) and toks[i].lower() == "as":
                i += 1
            if i >= len(toks):
                raise errors.SyntaxError_(f"COPY option {t} needs a value")
            opts[t] = _val(toks[i])
            i += 1
        else:
            raise errors.SyntaxError_(f'COPY option "{toks[i - 1]}" not recognized')
    return _check(opts)


_KNOWN = {"format", "header", "delimiter", "null", "quote", "escape", "encoding", "freeze", "force_quote",
          "force_not_null", "force_null", "default"}


def _check(opts: dict) -> dict:
    for k in opts:
        if k not in _KNOWN:
            raise errors.SyntaxError_(f'option "{k}" not recognized')
    if "encoding" in opts and str(opts["encoding"]).upper().replace("-", "") not in ("UTF8", "UNICODE"):
        raise errors.FeatureNotSupported("COPY encodings other than UTF8")
    d = opts.get("delimiter")
    if d is not None and (not isinstance(d, str) or len(d) != 1):
        raise errors.FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if isinstance(opts.get("header"), str) and str(opts["header"]).lower() == "match":
        opts["header"] = True
    return opts
