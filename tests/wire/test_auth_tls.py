"""Logins against a server started with an auth/TLS config: SCRAM-SHA-256, MD5, cleartext,
wrong passwords (28P01), sslmode=require with a self-signed certificate, tls.required."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

from pgmkts.wire.auth import make_verifier


def dsn(srv, user="alice", password="secret", **kw):
    extra = " ".join(f"{k}={v}" for k, v in kw.items())
    return f"host=127.0.0.1 port={srv.port} dbname=pgmkts user={user} password={password} {extra}"


@pytest.mark.parametrize("method", ["scram-sha-256", "md5", "password"])
def test_password_methods(fresh_server, method):
    verifier = str(make_verifier("hunter2"))
    srv = fresh_server(f"""auth:
  method: {method}
  users:
    - {{name: alice, password: secret, role: readwrite}}
    - {{name: carol, password: "{verifier}", role: readonly}}
""")
    with psycopg.connect(dsn(srv), sslmode="disable") as c:
        assert c.execute("SELECT current_user").fetchone() == ("alice",)
        assert c.info.parameter_status("session_authorization") == "alice"
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(dsn(srv, password="wrong"), sslmode="disable")
    assert "28P01" in str(ei.value) or "password authentication failed" in str(ei.value)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(srv, user="mallory"), sslmode="disable")
    if method != "md5":   # a stored SCRAM verifier cannot answer an MD5 challenge (as in PostgreSQL)
        with psycopg.connect(dsn(srv, user="carol", password="hunter2"), sslmode="disable",
                             autocommit=True) as c:
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                c.execute('CREATE TABLE "RO/1Min/OHLCV" (epoch timestamptz, close real)')


def _self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl CLI is needed to make a test certificate")
    crt, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(crt), "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    return crt, key


def test_tls_require_and_required(fresh_server, tmp_path):
    crt, key = _self_signed(tmp_path)
    srv = fresh_server(f"""auth:
  method: scram-sha-256
  users: [{{name: alice, password: secret}}]
tls: {{cert_file: {crt}, key_file: {key}, required: true}}
""")
    with psycopg.connect(dsn(srv), sslmode="require") as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("SELECT 1 + 1").fetchone() == (2,)
        with c.cursor(binary=True) as cur:
            assert cur.execute("SELECT 'tls'::text").fetchone() == ("tls",)
    with pytest.raises(psycopg.OperationalError) as ei:
        psycopg.connect(dsn(srv), sslmode="disable")
    assert "TLS" in str(ei.value) or "28000" in str(ei.value)
