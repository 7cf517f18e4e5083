"""Run-time settings as PostgreSQL reports them: defaults, lookup by name, and pg_settings rows.

The session's own `settings` dict (SET/RESET state, owned by the planner) overrides these defaults.
"""

from __future__ import annotations

from pgmkts import errors

SERVER_VERSION = "15.6"
SERVER_VERSION_NUM = "150006"

# name → (default, vartype, unit, category, short_desc, context). Names are matched case-insensitively,
# but reported with PostgreSQL's spelling (DateStyle, TimeZone, IntervalStyle).
DEFAULTS: dict[str, tuple[str, str, str | None, str, str, str]] = {
    "application_name": ("", "string", None, "Reporting and Logging", "Sets the application name.", "user"),
    "block_size": ("8192", "integer", None, "Preset Options", "Shows the size of a disk block.", "internal"),
    "bytea_output": ("hex", "enum", None, "Client Connection Defaults", "Sets the output format for bytea.", "user"),
    "client_encoding": ("UTF8", "string", None, "Client Connection Defaults", "Sets the client's character set encoding.", "user"),
    "client_min_messages": ("notice", "enum", None, "Client Connection Defaults", "Sets the message levels that are sent to the client.", "user"),
    "DateStyle": ("ISO, MDY", "string", None, "Client Connection Defaults", "Sets the display format for date and time values.", "user"),
    "default_transaction_isolation": ("read committed", "enum", None, "Client Connection Defaults", "Sets the transaction isolation level of each new transaction.", "user"),
    "default_transaction_read_only": ("off", "bool", None, "Client Connection Defaults", "Sets the default read-only status of new transactions.", "user"),
    "escape_string_warning": ("on", "bool", None, "Version and Platform Compatibility", "Warn about backslash escapes in ordinary string literals.", "user"),
    "extra_float_digits": ("1", "integer", None, "Client Connection Defaults", "Sets the number of digits displayed for floating-point values.", "user"),
    "idle_in_transaction_session_timeout": ("0", "integer", "ms", "Client Connection Defaults", "Sets the maximum allowed idle time between queries, when in a transaction.", "user"),
    "integer_datetimes": ("on", "bool", None, "Preset Options", "Shows whether datetimes are integer based.", "internal"),
    "IntervalStyle": ("postgres", "enum", None, "Client Connection Defaults", "Sets the display format for interval values.", "user"),
    "is_superuser": ("on", "bool", None, "Preset Options", "Shows whether the current user is a superuser.", "internal"),
    "jit": ("off", "bool", None, "Query Tuning", "Allow JIT compilation.", "user"),
    "lc_collate": ("C.UTF-8", "string", None, "Preset Options", "Shows the collation order locale.", "internal"),
    "lc_ctype": ("C.UTF-8", "string", None, "Preset Options", "Shows the character classification and case conversion locale.", "internal"),
    "lc_messages": ("C.UTF-8", "string", None, "Client Connection Defaults", "Sets the language in which messages are displayed.", "superuser"),
    "lc_monetary": ("C.UTF-8", "string", None, "Client Connection Defaults", "Sets the locale for formatting monetary amounts.", "user"),
    "lc_numeric": ("C.UTF-8", "string", None, "Client Connection Defaults", "Sets the locale for formatting numbers.", "user"),
    "lc_time": ("C.UTF-8", "string", None, "Client Connection Defaults", "Sets the locale for formatting date and time values.", "user"),
    "lock_timeout": ("0", "integer", "ms", "Client Connection Defaults", "Sets the maximum allowed duration of any wait for a lock.", "user"),
    "max_connections": ("100", "integer", None, "Connections and Authentication", "Sets the maximum number of concurrent connections.", "postmaster"),
    "max_identifier_length": ("63", "integer", None, "Preset Options", "Shows the maximum identifier length.", "internal"),
    "max_index_keys": ("32", "integer", None, "Preset Options", "Shows the maximum number of index keys.", "internal"),
    "row_security": ("on", "bool", None, "Client Connection Defaults", "Enable row security.", "user"),
    "search_path": ('"$user", public', "string", None, "Client Connection Defaults", "Sets the schema search order for names that are not schema-qualified.", "user"),
    "server_encoding": ("UTF8", "string", None, "Preset Options", "Shows the server (database) character set encoding.", "internal"),
    "server_version": (SERVER_VERSION, "string", None, "Preset Options", "Shows the server version.", "internal"),
    "server_version_num": (SERVER_VERSION_NUM, "integer", None, "Preset Options", "Shows the server version as an integer.", "internal"),
    "session_authorization": ("", "string", None, "Preset Options", "Sets the session user name.", "user"),
    "standard_conforming_strings": ("on", "bool", None, "Version and Platform Compatibility", "Causes '...' strings to treat backslashes literally.", "user"),
    "statement_timeout": ("0", "integer", "ms", "Client Connection Defaults", "Sets the maximum allowed duration of any statement.", "user"),
    "synchronous_commit": ("on", "enum", None, "Write-Ahead Log", "Sets the current transaction's synchronization level.", "user"),
    "TimeZone": ("UTC", "string", None, "Client Connection Defaults", "Sets the time zone for displaying and interpreting time stamps.", "user"),
    "transaction_deferrable": ("off", "bool", None, "Client Connection Defaults", "Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures.", "user"),
    "transaction_isolation": ("read committed", "string", None, "Client Connection Defaults", "Sets the current transaction's isolation level.", "user"),
    "transaction_read_only": ("off", "bool", None, "Client Connection Defaults", "Sets the current transaction's read-only status.", "user"),
    "work_mem": ("4096", "integer", "kB", "Resource Usage / Memory", "Sets the maximum memory to be used for query workspaces.", "user"),
}
_CANON = {k.lower(): k for k in DEFAULTS}


def canonical(name: str) -> str:
    """PostgreSQL's spelling of a setting name (DateStyle), or the lower-cased name if unknown."""
    return _CANON.get(name.lower(), name.lower())


def _planner_defaults() -> dict[str, str]:
    """The planner's GUC defaults (SET/SHOW's source of truth) win over the descriptions table here."""
    try:
        from pgmkts.planner import settings as planner_settings
    except ImportError:          # planner not importable (partial tree): keep our own defaults
        return {}
    return dict(getattr(planner_settings, "DEFAULTS", {}))


def effective(session_settings: dict[str, str] | None, *, user: str = "pgmkts") -> dict[str, str]:
    """Defaults overlaid with the session's SET state, keyed by canonical name."""
    out = {k: v[0] for k, v in DEFAULTS.items()}
    out["session_authorization"] = user
    for k, v in _planner_defaults().items():
        out[canonical(k)] = str(v)
    for k, v in (session_settings or {}).items():
        out[canonical(k)] = str(v)
    return out


def current_setting(session_settings: dict[str, str] | None, name: str, missing_ok: bool = False,
                    *, user: str = "pgmkts") -> str | None:
    """current_setting(name [, missing_ok]): 42704 for an unknown name unless missing_ok or a custom `a.b`."""
    eff = effective(session_settings, user=user)
    key = canonical(name)
    if key in eff:
        return eff[key]
    if missing_ok:
        return None
    raise errors.UndefinedObject(f'unrecognized configuration parameter "{name}"')


def settings_rows(session_settings: dict[str, str] | None, *, user: str = "pgmkts") -> list[dict]:
    """pg_settings rows: every known setting (and custom ones the session SET) with its current value."""
    eff = effective(session_settings, user=user)
    rows = []
    for name in sorted(eff, key=str.lower):
        default, vartype, unit, category, desc, context = DEFAULTS.get(
            name, ("", "string", None, "Customized Options", "", "user"))
        boot = _planner_defaults().get(name, default)
        changed = eff[name] != boot
        rows.append({
            "name": name, "setting": eff[name], "unit": unit, "category": category, "short_desc": desc,
            "extra_desc": None, "context": context, "vartype": vartype,
            "source": "session" if changed else "default", "min_val": None, "max_val": None,
            "enumvals": None, "boot_val": boot, "reset_val": boot, "sourcefile": None,
            "sourceline": None, "pending_restart": False,
        })
    return rows
