"""Authentication exchanges, sans-I/O: cleartext, MD5 and SCRAM-SHA-256 (RFC 5802/7677, docs §55.3).

Users come from config.auth.users; a password may be cleartext or a SCRAM verifier
`SCRAM-SHA-256$<iter>:<b64 salt>$<b64 StoredKey>:<b64 ServerKey>` (PostgreSQL's pg_authid format).
Every failure raises InvalidPassword (28P01) naming the user, never the reason, as PostgreSQL does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from pgmkts.errors import InvalidPassword, ProtocolViolation

SCRAM_ITERATIONS = 4096
_VERIFIER = re.compile(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")


def failed(user: str, method: str) -> InvalidPassword:
    return InvalidPassword(f'password authentication failed for user "{user}"',
                           detail=None, hint=f"check the {method} password configured in mkts.yml auth.users")


@dataclass(frozen=True)
class ScramVerifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def __str__(self) -> str:
        b64 = base64.b64encode
        return (f"SCRAM-SHA-256${self.iterations}:{b64(self.salt).decode()}$"
                f"{b64(self.stored_key).decode()}:{b64(self.server_key).decode()}")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def make_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> ScramVerifier:
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = _hmac(salted, b"Client Key")
    return ScramVerifier(iterations, salt, hashlib.sha256(client_key).digest(), _hmac(salted, b"Server Key"))


def parse_verifier(text: str) -> ScramVerifier | None:
    m = _VERIFIER.match(text or "")
    if not m:
        return None
    d = base64.b64decode
    return ScramVerifier(int(m.group(1)), d(m.group(2)), d(m.group(3)), d(m.group(4)))


def verifier_for(password: str | None) -> ScramVerifier | None:
    if password is None:
        return None
    return parse_verifier(password) or make_verifier(password)


def check_cleartext(stored: str | None, given: str) -> bool:
    """`stored` may be cleartext, a SCRAM verifier (re-derive with its salt) or 'md5<hex>'."""
    if stored is None:
        return False
    v = parse_verifier(stored)
    if v is not None:
        return hmac.compare_digest(make_verifier(given, v.salt, v.iterations).stored_key, v.stored_key)
    return hmac.compare_digest(stored.encode(), given.encode())


def md5_password(user: str, password: str, salt: bytes) -> str:
    """What an MD5 client sends: 'md5' + md5(md5(password + user) + salt)."""
    inner = hashlib.md5((password + user).encode("utf-8")).hexdigest()
    return "md5" + hashlib.md5(inner.encode() + salt).hexdigest()


def check_md5(user: str, stored: str | None, salt: bytes, given: str) -> bool:
    if stored is None or parse_verifier(stored) is not None:
        return False   # a SCRAM verifier cannot answer an MD5 challenge (as in PostgreSQL)
    if stored.startswith("md5") and len(stored) == 35:
        expect = "md5" + hashlib.md5(stored[3:].encode() + salt).hexdigest()
    else:
        expect = md5_password(user, stored, salt)
    return hmac.compare_digest(expect.encode(), given.encode())


def _attrs(msg: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in msg.split(","):
        if len(part) >= 2 and part[1] == "=":
            out.setdefault(part[0], part[2:])
    return out


class ScramExchange:
    """Server side of one SCRAM-SHA-256 exchange. An unknown user gets a mock verifier so the
    exchange looks the same and fails only at the proof (no user enumeration)."""

    def __init__(self, user: str, verifier: ScramVerifier | None) -> None:
        self.user = user
        self.known = verifier is not None
        self.v = verifier or make_verifier(os.urandom(16).hex())
        self._client_first_bare = ""
        self._server_first = ""
        self._nonce = ""

    def server_first(self, client_first: bytes) -> bytes:
        try:
            text = client_first.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("malformed SCRAM message: not UTF-8") from None
        if not (text.startswith("n,") or text.startswith("y,")):
            # 'p=' asks for channel binding, which needs SCRAM-SHA-256-PLUS (not offered)
            raise ProtocolViolation("malformed SCRAM message: unsupported channel binding flag")
        idx = text.find(",", 2)
        if idx < 0:
            raise ProtocolViolation("malformed SCRAM message: no client-first-message-bare")
        self._gs2 = text[: idx + 1]
        self._client_first_bare = text[idx + 1:]
        cnonce = _attrs(self._client_first_bare).get("r")
        if not cnonce:
            raise ProtocolViolation("malformed SCRAM message: missing client nonce")
        self._nonce = cnonce + base64.b64encode(os.urandom(18)).decode()
        self._server_first = (f"r={self._nonce},s={base64.b64encode(self.v.salt).decode()},"
                              f"i={self.v.iterations}")
        return self._server_first.encode()

    def server_final(self, client_final: bytes) -> bytes:
        try:
            text = client_final.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation("malformed SCRAM message: not UTF-8") from None
        pos = text.rfind(",p=")
        if pos < 0:
            raise ProtocolViolation("malformed SCRAM message: missing proof")
        without_proof = text[:pos]
        attrs = _attrs(text)
        if attrs.get("r") != self._nonce:
            raise ProtocolViolation("SCRAM nonce mismatch")
        if attrs.get("c") != base64.b64encode(self._gs2.encode()).decode():
            raise ProtocolViolation("SCRAM channel binding check failed")
        try:
            proof = base64.b64decode(attrs["p"], validate=True)
        except Exception:
            raise ProtocolViolation("malformed SCRAM message: invalid proof encoding") from None
        auth_msg = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        sig = _hmac(self.v.stored_key, auth_msg)
        if len(proof) != len(sig):
            raise failed(self.user, "SCRAM")
        client_key = bytes(a ^ b for a, b in zip(proof, sig, strict=True))
        if not self.known or not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.v.stored_key):
            raise failed(self.user, "SCRAM")
        return ("v=" + base64.b64encode(_hmac(self.v.server_key, auth_msg)).decode()).encode()
