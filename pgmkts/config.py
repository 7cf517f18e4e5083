"""mkts.yml → frozen dataclasses, validated; every error names the offending key.

MarketStore's own keys keep their meaning; keys MarketStore has that pgmkts has no use for
are accepted with one warning each so an existing mkts.yml starts unchanged (SPEC §1).
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pgmkts.errors import ConfigError

log = logging.getLogger("pgmkts.config")

# MarketStore keys we accept and ignore (warning once each).
IGNORED_MARKETSTORE_KEYS = {
    "grpc_listen_port", "grpc_max_send_msg_size", "grpc_max_recv_msg_size", "utilities_url",
    "init_catalog", "init_wal_cache", "background_sync", "wal_bypass", "enable_add",
    "enable_remove", "enable_last_known", "utilities_listen_port",
}


@dataclass(frozen=True)
class User:
    name: str
    password: str | None = None   # cleartext, or a SCRAM verifier "SCRAM-SHA-256$iter:salt$stored:server"
    role: str = "readwrite"       # readwrite | readonly


@dataclass(frozen=True)
class Auth:
    method: str = "trust"         # trust | password | md5 | scram-sha-256
    users: tuple[User, ...] = ()


@dataclass(frozen=True)
class TLS:
    cert_file: str | None = None
    key_file: str | None = None
    required: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file and self.key_file)


@dataclass(frozen=True)
class Limits:
    max_connections: int = 100
    max_message_bytes: int = 256 * 1024 * 1024
    statement_timeout_ms: int = 0
    max_result_rows: int = 0
    idle_timeout_s: float = 0.0
    startup_timeout_s: float = 60.0


@dataclass(frozen=True)
class Replication:
    enabled: bool = False
    listen_port: int = 5996
    master_host: str = ""
    tls_enabled: bool = False
    cert_file: str = ""
    key_file: str = ""
    retry_interval: str = "10s"
    retry_backoff_coeff: float = 2.0


@dataclass(frozen=True)
class Plugin:
    module: str
    on: str = ""
    name: str = ""
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    root_directory: str = "data"
    listen_host: str = "127.0.0.1"
    listen_port: int = 5993
    rpc_listen_port: int = 5994
    timezone: str = "UTC"
    log_level: str = "info"
    queryable: bool = True
    stop_grace_period: float = 0.0
    wal_rotate_interval: float = 5.0
    wal_sync: str = "commit"
    wal_sync_interval_ms: int = 10
    stale_threshold: int = 5
    disable_variable_compression: bool = False
    storage_compression: str = "none"   # none | zstd: compact quiet past-year fixed files
    auth: Auth = Auth()
    tls: TLS = TLS()
    limits: Limits = Limits()
    triggers: tuple[Plugin, ...] = ()
    bgworkers: tuple[Plugin, ...] = ()
    replication: Replication = Replication()

    def with_overrides(self, **kw: Any) -> Config:
        return replace(self, **{k: v for k, v in kw.items() if v is not None})


_SCALARS: dict[str, type | tuple[type, ...]] = {
    "root_directory": str, "listen_host": str, "listen_port": int, "rpc_listen_port": int,
    "timezone": str, "log_level": str, "queryable": bool, "stop_grace_period": (int, float),
    "wal_rotate_interval": (int, float), "wal_sync": str, "wal_sync_interval_ms": int,
    "stale_threshold": int, "disable_variable_compression": bool, "storage_compression": str,
}
_CHOICES = {
    "log_level": {"debug", "info", "warning", "error", "fatal"},
    "wal_sync": {"commit", "interval"},
    "storage_compression": {"none", "zstd"},
}
_AUTH_METHODS = {"trust", "password", "md5", "scram-sha-256"}


def _closest(key: str, known: list[str]) -> str:
    m = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {m[0]!r}?)" if m else ""


def _check_type(key: str, value: Any, typ: type | tuple[type, ...]) -> Any:
    types = typ if isinstance(typ, tuple) else (typ,)
    # bool is an int subclass in Python; YAML `true` for a port is still wrong.
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"mkts.yml: {key}: expected {types[0].__name__}, got {value!r}")
    if not isinstance(value, types):
        if float in types and isinstance(value, int):
            return float(value)
        raise ConfigError(f"mkts.yml: {key}: expected {types[0].__name__}, got {value!r}")
    return value


def _section(key: str, raw: Any, cls: type, renames: dict[str, str] | None = None) -> Any:
    if raw is None:
        return cls()
    if isinstance(raw, str) and raw.lower() == "off":
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"mkts.yml: {key}: expected a mapping, got {raw!r}")
    known = {f.name: f for f in fields(cls)}
    out: dict[str, Any] = {}
    for k, v in raw.items():
        name = (renames or {}).get(k, k)
        if name not in known:
            raise ConfigError(f"mkts.yml: unknown key {key}.{k}{_closest(k, list(known))}")
        default = getattr(cls(), name) if name != "users" else ()
        if isinstance(default, bool):
            v = _check_type(f"{key}.{k}", v, bool)
        elif isinstance(default, int):
            v = _check_type(f"{key}.{k}", v, int)
        elif isinstance(default, float):
            v = _check_type(f"{key}.{k}", v, (int, float))
        elif isinstance(default, str) or default is None:
            if v is not None and not isinstance(v, str):
                raise ConfigError(f"mkts.yml: {key}.{k}: expected a string, got {v!r}")
        out[name] = v
    return cls(**out)


def _plugins(key: str, raw: Any) -> tuple[Plugin, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"mkts.yml: {key}: expected a list, got {raw!r}")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, dict):
            # YAML 1.1 reads a bare `on:` key as boolean True; MarketStore's files use it bare.
            item = {("on" if k is True else k): v for k, v in item.items()}
        if not isinstance(item, dict) or "module" not in item:
            raise ConfigError(f"mkts.yml: {key}[{i}]: expected a mapping with 'module'")
        extra = set(item) - {"module", "on", "name", "config"}
        if extra:
            raise ConfigError(f"mkts.yml: unknown key {key}[{i}].{sorted(extra)[0]}")
        cfg = item.get("config") or {}
        if not isinstance(cfg, dict):
            raise ConfigError(f"mkts.yml: {key}[{i}].config: expected a mapping")
        out.append(Plugin(module=str(item["module"]), on=str(item.get("on") or ""),
                          name=str(item.get("name") or ""), config=dict(cfg)))
    return tuple(out)


def _auth(raw: Any) -> Auth:
    if raw is None:
        return Auth()
    if not isinstance(raw, dict):
        raise ConfigError(f"mkts.yml: auth: expected a mapping, got {raw!r}")
    extra = set(raw) - {"method", "users"}
    if extra:
        k = sorted(extra)[0]
        raise ConfigError(f"mkts.yml: unknown key auth.{k}{_closest(k, ['method', 'users'])}")
    method = raw.get("method", "trust")
    if method not in _AUTH_METHODS:
        raise ConfigError(f"mkts.yml: auth.method: {method!r} is not one of {sorted(_AUTH_METHODS)}")
    users = []
    for i, u in enumerate(raw.get("users") or []):
        if not isinstance(u, dict) or not isinstance(u.get("name"), str):
            raise ConfigError(f"mkts.yml: auth.users[{i}]: expected a mapping with a 'name'")
        extra = set(u) - {"name", "password", "role"}
        if extra:
            raise ConfigError(f"mkts.yml: unknown key auth.users[{i}].{sorted(extra)[0]}")
        role = u.get("role", "readwrite")
        if role not in ("readwrite", "readonly"):
            raise ConfigError(f"mkts.yml: auth.users[{i}].role: {role!r} is not readwrite or readonly")
        pw = u.get("password")
        if pw is not None and not isinstance(pw, str):
            pw = str(pw)
        users.append(User(name=u["name"], password=pw, role=role))
    if method != "trust" and not users:
        raise ConfigError(f"mkts.yml: auth.users: method {method!r} needs at least one user")
    return Auth(method=method, users=tuple(users))


def parse_config(raw: Any, *, warn=log.warning) -> Config:
    """Validate a parsed mkts.yml mapping and build a Config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("mkts.yml: expected a mapping of keys at the top level")
    known = [f.name for f in fields(Config)]
    kw: dict[str, Any] = {}
    for key, value in raw.items():
        if key in IGNORED_MARKETSTORE_KEYS:
            warn(f"mkts.yml: {key} is a MarketStore setting pgmkts does not use; ignored")
            continue
        if key not in known:
            raise ConfigError(f"mkts.yml: unknown key {key}{_closest(key, known)}")
        if key in _SCALARS:
            if value is None:
                continue
            value = _check_type(key, value, _SCALARS[key])
            if key in _CHOICES and value not in _CHOICES[key]:
                raise ConfigError(f"mkts.yml: {key}: {value!r} is not one of {sorted(_CHOICES[key])}")
            if key.endswith("port") and not (0 <= value <= 65535):
                raise ConfigError(f"mkts.yml: {key}: {value} is not a TCP port")
        elif key == "auth":
            value = _auth(value)
        elif key == "tls":
            value = _section("tls", value, TLS)
        elif key == "limits":
            value = _section("limits", value, Limits)
        elif key == "replication":
            value = _section("replication", value, Replication)
        elif key in ("triggers", "bgworkers"):
            value = _plugins(key, value)
        kw[key] = value
    cfg = Config(**kw)
    _check_timezone(cfg.timezone)
    if cfg.tls.required and not cfg.tls.enabled:
        raise ConfigError("mkts.yml: tls.required: needs tls.cert_file and tls.key_file")
    return cfg


def _check_timezone(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a tzdata directory, e.g. "America"
        raise ConfigError(f"mkts.yml: timezone: unknown time zone {tz!r}") from None


def load_config(path: str | Path | None) -> Config:
    """Read and validate mkts.yml; a missing file means all defaults."""
    if path is None:
        return Config()
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist (create one with `pgmkts init --config {p}`)")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"mkts.yml: not valid YAML: {e}") from None
    return parse_config(raw)


DEFAULT_YAML = """\
# pgmkts configuration (MarketStore's mkts.yml keys keep their meaning).
root_directory: data            # the data directory
listen_host: 127.0.0.1          # interface for every port (0.0.0.0 needs auth)
listen_port: 5993               # PostgreSQL wire protocol; also answers MarketStore HTTP RPC
rpc_listen_port: 5994           # native HTTP: /rpc (msgpack-RPC), /ws, /healthz, /metrics
timezone: UTC                   # display and calendar functions; storage is always UTC
log_level: info                 # debug | info | warning | error
queryable: true                 # false: accept writes, refuse queries
stop_grace_period: 0            # seconds to wait for sessions on shutdown
wal_rotate_interval: 5          # minutes between WAL checkpoints/rotations
wal_sync: commit                # commit: ack after fsync (group commit) | interval
wal_sync_interval_ms: 10        # with wal_sync: interval
stale_threshold: 5              # days after which a symbol is reported stale
disable_variable_compression: false
storage_compression: none       # zstd: compress quiet past-year bar files (~9 B/row instead of 25)
auth:
  method: trust                 # trust | password | md5 | scram-sha-256
  # users:
  #   - {name: alice, password: secret, role: readwrite}
  #   - {name: bob, password: secret, role: readonly}
# tls:
#   cert_file: server.crt
#   key_file: server.key
#   required: false
limits:
  max_connections: 100
  max_message_bytes: 268435456
  statement_timeout_ms: 0       # 0 = none
  max_result_rows: 0            # 0 = unlimited
triggers: []
#  - module: ondiskagg.so
#    on: "*/1Min/OHLCV"
#    config:
#      destinations: [5Min, 15Min, 1H, 1D]
#  - module: stream.so
#    on: "*/*/*"
bgworkers: []
#  - module: demo_feeder
#    name: demo
#    config: {symbols: [DEMO-AAPL], timeframe: 1Min, interval: 1}
# replication:
#   enabled: false
#   listen_port: 5996
#   master_host: ""
"""
