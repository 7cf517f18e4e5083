"""HTTP Basic authentication against the configured users (the same users and roles as the
PostgreSQL side); passwords may be stored plain, as PostgreSQL md5 or as a SCRAM verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any


def _check_scram(verifier: str, password: str) -> bool:
    # SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64> (PostgreSQL's format)
    try:
        _, iter_salt, keys = verifier.split("$")
        iterations, salt_b64 = iter_salt.split(":")
        stored_b64, _server = keys.split(":")
        salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt_b64),
                                     int(iterations))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        return hmac.compare_digest(hashlib.sha256(client_key).digest(), base64.b64decode(stored_b64))
    except (ValueError, TypeError):
        return False


def check_password(stored: str | None, user: str, password: str) -> bool:
    if stored is None:
        return False
    if stored.startswith("SCRAM-SHA-256$"):
        return _check_scram(stored, password)
    if stored.startswith("md5") and len(stored) == 35:
        digest = "md5" + hashlib.md5((password + user).encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, stored)
    return hmac.compare_digest(stored.encode("utf-8"), password.encode("utf-8"))


def auth_required(app: Any) -> bool:
    auth = getattr(getattr(app, "config", None), "auth", None)
    method = getattr(auth, "method", "trust") if auth is not None else "trust"
    return (method or "trust") != "trust"


def authenticate(app: Any, creds: tuple[str, str] | None) -> str | None:
    """The role ('readwrite' or 'readonly') the request runs as, or None if refused.

    With `auth.method: trust` everyone is readwrite, as on the PostgreSQL port.
    """
    if not auth_required(app):
        return "readwrite"
    if creds is None:
        return None
    name, password = creds
    for user in getattr(app.config.auth, "users", None) or ():
        if getattr(user, "name", None) == name:
            if check_password(getattr(user, "password", None), name, password):
                return getattr(user, "role", None) or "readwrite"
            return None
    return None
