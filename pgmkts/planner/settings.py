"""Run-time settings (GUCs): defaults, case-insensitive names, SET/SHOW/RESET value rules."""

from __future__ import annotations

from pgmkts import errors

DEFAULTS: dict[str, str] = {
    "server_version": "15.0", "server_version_num": "150000", "server_encoding": "UTF8",
    "client_encoding": "UTF8", "DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "TimeZone": "UTC",
    "integer_datetimes": "on", "standard_conforming_strings": "on", "application_name": "",
    "is_superuser": "on", "session_authorization": "pgmkts", "search_path": '"$user", public',
    "default_transaction_isolation": "read committed", "transaction_isolation": "read committed",
    "default_transaction_read_only": "off", "transaction_read_only": "off",
    "default_transaction_deferrable": "off", "extra_float_digits": "1", "statement_timeout": "0",
    "lock_timeout": "0", "idle_in_transaction_session_timeout": "0", "max_identifier_length": "63",
    "bytea_output": "hex", "lc_messages": "C", "lc_monetary": "C", "lc_numeric": "C", "lc_time": "C",
    "lc_collate": "C", "lc_ctype": "C", "in_hot_standby": "off", "client_min_messages": "notice",
    "max_index_keys": "32", "block_size": "8192", "work_mem": "4MB", "timezone_abbreviations": "Default",
    "row_security": "on", "synchronous_commit": "on", "jit": "off", "geqo": "on",
    "enable_seqscan": "on", "datestyle": "ISO, MDY", "xmloption": "content", "escape_string_warning": "on",
    "default_text_search_config": "pg_catalog.english", "intervalstyle": "postgres",
    "max_connections": "100", "port": "5993", "TimeZone_abbrev": "UTC",
}
DEFAULTS.pop("datestyle")
DEFAULTS.pop("intervalstyle")
DEFAULTS.pop("TimeZone_abbrev")

# ParameterStatus is sent for these (PostgreSQL's GUC_REPORT flag)
REPORTED = {"server_version", "server_encoding", "client_encoding", "application_name",
            "default_transaction_read_only", "in_hot_standby", "is_superuser", "session_authorization",
            "DateStyle", "IntervalStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings"}
READ_ONLY = {"server_version", "server_version_num", "server_encoding", "integer_datetimes",
             "max_identifier_length", "block_size", "lc_collate", "lc_ctype", "in_hot_standby",
             "max_index_keys", "is_superuser", "max_connections", "port"}

_CANON = {k.lower(): k for k in DEFAULTS}

DESCRIPTIONS = {"TimeZone": "Sets the time zone for displaying and interpreting time stamps.",
                "DateStyle": "Sets the display format for date and time values.",
                "client_encoding": "Sets the client's character set encoding."}


def canonical(name: str) -> str:
    return _CANON.get(name.lower(), name.lower())


def normalise(name: str, value: str) -> str:
    """Validate and normalise a SET value the way PostgreSQL would display it."""
    if name == "TimeZone":
        from pgmkts.planner.exec.values import tzinfo
        v = value.strip()
        if v.upper() in ("UTC", "GMT", "Z", "ZULU", "ETC/UTC", "UCT"):
            return "UTC" if v.upper() != "GMT" else "GMT"
        if v.lower() == "local":
            return "UTC"
        tzinfo(v)
        return v
    if name == "client_encoding":
        if value.upper().replace("-", "").replace("_", "") in ("UTF8", "UNICODE"):
            return "UTF8"
        raise errors.FeatureNotSupported(f'client_encoding "{value}": only UTF8 is supported')
    if name == "DateStyle":
        parts = [p.strip().upper() for p in value.split(",")]
        style = next((p for p in parts if p in ("ISO", "SQL", "POSTGRES", "GERMAN")), "ISO")
        order = next((p for p in parts if p in ("MDY", "DMY", "YMD", "US", "EUROPEAN", "NONEURO")), "MDY")
        order = {"US": "MDY", "NONEURO": "MDY", "EUROPEAN": "DMY"}.get(order, order)
        if style != "ISO":
            raise errors.FeatureNotSupported(f"DateStyle {style}: only ISO is supported")
        return f"{style.title() if style != 'ISO' else 'ISO'}, {order}"
    if name == "IntervalStyle":
        if value.lower() != "postgres":
            raise errors.FeatureNotSupported(f"IntervalStyle {value}: only postgres is supported")
        return "postgres"
    if name in ("standard_conforming_strings",):
        if value.lower() not in ("on", "true", "1", "yes"):
            raise errors.FeatureNotSupported("standard_conforming_strings must stay on")
        return "on"
    if name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        import re
        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(ms|s|min|h|d)?\s*", value):
            raise errors.InvalidParameterValue(f'invalid value for parameter "{name}": "{value}"',
                                               hint='Valid units for this parameter are "ms", "s", "min", "h", and "d".')
        return value.strip()
    if name in ("transaction_read_only", "default_transaction_read_only"):
        return "on" if value.lower() in ("on", "true", "1", "yes", "t") else "off"
    return value
