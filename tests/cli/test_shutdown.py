"""SIGTERM with stop_grace_period: open sessions keep working until they leave (or the period
ends); the server then stops at once, exit status 0."""

from __future__ import annotations

import signal
import time

import psycopg

from tests.support.server import start_server


def test_grace_period_waits_for_sessions_then_stops(tmp_path):
    cfg = tmp_path / "mkts.yml"
    cfg.write_text("stop_grace_period: 20\n")
    srv = start_server(tmp_path / "data", config=cfg)
    try:
        conn = psycopg.connect(srv.dsn, autocommit=True)
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # the session outlives the signal: shutdown waits for it
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
        assert srv.proc.poll() is None
        t0 = time.monotonic()
        conn.close()
        assert srv.proc.wait(15) == 0
        assert time.monotonic() - t0 < 10  # once the last session left, not after the whole period
        assert any("pgmkts stopped" in line for line in srv.output)
    finally:
        srv.stop()
