"""SET / SHOW / RESET and current_setting()/set_config() for Session (GUCs, ParameterStatus)."""

from __future__ import annotations

import re

import pyarrow as pa

from pgmkts import errors
from pgmkts.planner import settings as S
from pgmkts.planner.exec.frame import Frame
from pgmkts.planner.output import frame_result
from pgmkts.planner.result import Result


class SettingsMixin:
    """Session's settings commands; expects self.settings, txn_status, parameter_changes, read_only."""

    settings: dict[str, str]
    _session_defaults: dict[str, str]
    _local_settings: dict[str, str]
    parameter_changes: list[tuple[str, str]]
    txn_status: str
    read_only: bool
    _txn_read_only: bool

    def get_setting(self, name: str, missing_ok: bool = False) -> str | None:
        canon = S.canonical(name)
        if canon in self.settings:
            return self.settings[canon]
        if "." in name:  # custom (extension-style) settings, e.g. myapp.tenant
            if missing_ok:
                return None
        if missing_ok:
            return None
        raise errors.UndefinedObject(f'unrecognized configuration parameter "{name}"')

    def set_setting(self, name: str, value: str | None, *, local: bool = False) -> None:
        canon = S.canonical(name)
        if canon in S.READ_ONLY:
            e = errors.PgmktsError(f'parameter "{name}" cannot be changed')
            e.sqlstate = "55P02"
            raise e
        if canon not in self.settings and "." not in canon:
            raise errors.UndefinedObject(f'unrecognized configuration parameter "{name}"')
        if value is None:
            value = self._session_defaults.get(canon, S.DEFAULTS.get(canon, ""))
        value = S.normalise(canon, value)
        if local and self.txn_status == "T":
            self._local_settings.setdefault(canon, self.settings.get(canon, ""))
        old = self.settings.get(canon)
        self.settings[canon] = value
        if canon in S.REPORTED and old != value:
            self.parameter_changes.append((canon, value))

    def _set(self, clean: str) -> Result:
        body = clean[3:].strip()
        low = body.lower()
        local = False
        if low.startswith("session characteristics as transaction"):
            rest = low[len("session characteristics as transaction"):]
            if "read only" in rest:
                self.set_setting("default_transaction_read_only", "on")
            elif "read write" in rest:
                if self.read_only:
                    raise errors.ReadOnlyTransaction("this session is read-only")
                self.set_setting("default_transaction_read_only", "off")
            return Result(tag="SET", fields=None)
        if low.startswith("transaction"):
            if "read only" in low:
                self._txn_read_only = True
                self.settings["transaction_read_only"] = "on"
            return Result(tag="SET", fields=None)
        if low.startswith("session "):
            body = body[8:].strip()
        elif low.startswith("local "):
            body, local = body[6:].strip(), True
        low = body.lower()
        if low.startswith("time zone"):
            val = body[9:].strip()
            self.set_setting("TimeZone", None if val.lower() in ("default", "local") else _unquote(val),
                             local=local)
            return Result(tag="SET", fields=None)
        if low.startswith("names"):
            self.set_setting("client_encoding", _unquote(body[5:].strip()), local=local)
            return Result(tag="SET", fields=None)
        if low.startswith("role") or low.startswith("session authorization"):
            return Result(tag="SET", fields=None)
        m = re.match(r'^("(?:[^"]|"")+"|[\w.]+)\s*(?:=|\bto\b)\s*(.*)$', body, re.I | re.S)
        if not m:
            raise errors.SyntaxError_(f"syntax error in SET: {clean[:60]}")
        name = m.group(1).strip('"')
        raw = m.group(2).strip()
        if raw.lower() == "default":
            self.set_setting(name, None, local=local)
        else:
            vals = [_unquote(v.strip()) for v in _split_list(raw)]
            self.set_setting(name, ", ".join(vals), local=local)
        return Result(tag="SET", fields=None)

    def _reset(self, clean: str) -> Result:
        name = clean[5:].strip()
        if name.lower() == "all":
            self._reset_all()
        elif name.lower() == "session authorization" or name.lower() == "role":
            pass
        else:
            self.set_setting(name.strip('"') if name.lower() != "time zone" else "TimeZone", None)
        return Result(tag="RESET", fields=None)

    def _reset_all(self) -> None:
        for k, v in S.DEFAULTS.items():
            if k in S.READ_ONLY or k == "session_authorization":
                continue
            v = self._session_defaults.get(k, v)
            if self.settings.get(k) != v:
                self.settings[k] = v
                if k in S.REPORTED:
                    self.parameter_changes.append((k, v))
        if self.read_only:
            self.settings["default_transaction_read_only"] = "on"

    def _current_setting(self, name: str, missing_ok: bool, col: str) -> Result:
        from pgmkts.planner.catalog.settings import current_setting
        val = current_setting(self.settings, name, missing_ok, user=self.user)  # type: ignore[attr-defined]
        return frame_result(Frame([pa.array([val], pa.string())], [(None, col)]), "SELECT 1")

    def _show(self, clean: str) -> Result:
        name = clean[4:].strip().strip('"')
        if name.lower() == "all":
            rows = sorted(self.settings.items(), key=lambda kv: kv[0].lower())
            cols = [pa.array([k for k, _ in rows]), pa.array([v for _, v in rows]),
                    pa.array([S.DESCRIPTIONS.get(k, "") for k, _ in rows])]
            return frame_result(Frame(cols, [(None, "name"), (None, "setting"), (None, "description")]),
                                "SHOW")
        if name.lower() == "time zone":
            name = "TimeZone"
        if name.lower() in ("transaction isolation level",):
            name = "transaction_isolation"
        val = self.get_setting(name)
        return frame_result(Frame([pa.array([val], pa.string())], [(None, _show_name(name))]), "SHOW")


# `SELECT current_setting('name' [, missing_ok])` alone, as drivers send it (ADBC reads TimeZone
# this way around every parametrised statement): answered like SHOW, not by the catalog executor,
# which builds an SQLite catalog per query (~1.5 ms)
_CURRENT_SETTING = re.compile(
    r"^select\s+(?:pg_catalog\.)?current_setting\s*\(\s*'((?:[^']|'')*)'\s*(?:,\s*(true|false)\s*)?\)"
    r"(?:\s+(?:as\s+)?(\w+|\"(?:[^\"]|\"\")+\"))?\s*$", re.IGNORECASE | re.DOTALL)


def current_setting_query(clean: str) -> tuple[str, bool, str] | None:
    """(setting name, missing_ok, column name) when `clean` is a lone current_setting() SELECT."""
    m = _CURRENT_SETTING.match(clean)
    if m is None:
        return None
    alias = m.group(3)
    if alias is None:
        col = "current_setting"
    elif alias.startswith('"'):
        col = alias[1:-1].replace('""', '"')
    else:
        col = alias.lower()
    return m.group(1).replace("''", "'"), (m.group(2) or "").lower() == "true", col


def _show_name(name: str) -> str:
    return S.canonical(name).lower() if S.canonical(name) in S.DEFAULTS else name.lower()


def _unquote(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] == "'":
        return v[1:-1].replace("''", "'")
    if len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    return v


def _split_list(raw: str) -> list[str]:
    out: list[str] = []
    cur: list[str] = []
    q = False
    for ch in raw:
        if ch == "'":
            q = not q
        if ch == "," and not q:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [o for o in out if o.strip()]
