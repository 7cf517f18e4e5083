"""Start a throw-away PostgreSQL 15 server (as the `postgres` user; it refuses root) on a free port."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = ["/usr/lib/postgresql/15/bin", *sorted(str(p) for p in Path("/usr/lib/postgresql").glob("*/bin"))]

# Tuned the way anyone would tune a benchmark box; fsync and synchronous_commit stay at their defaults
# (on) so the durable append is honest.
DEFAULT_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_connections": "50",
}


def pg_bin() -> Path:
    for d in PG_BIN_DIRS:
        if Path(d, "initdb").exists():
            return Path(d)
    raise RuntimeError("PostgreSQL server binaries not found (run `make sysdeps`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """initdb into a temp dir chowned to postgres, start with pg_ctl, stop and remove on close()."""

    def __init__(self, base: str | Path | None = None, settings: dict[str, str] | None = None) -> None:
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-pg-", dir=base))
        self.data = self.dir / "data"
        self.port = free_port()
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._as_root = os.geteuid() == 0
        self.started = False

    def _cmd(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._as_root else args

    def _run(self, args: list[str], timeout: float = 120) -> None:
        r = subprocess.run(self._cmd(args), capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {r.stderr.strip() or r.stdout.strip()}")

    @property
    def user(self) -> str:
        return "postgres" if self._as_root else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> PgServer:
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.user,
                   "-E", "UTF8", "--locale=C", "--no-sync"])
        opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        opts += f" -c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                   str(self.dir / "log"), "-w", "-t", "60", "start"])
        self.started = True
        return self

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.started:
            try:
                self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
            except Exception:
                pid = self.postmaster_pid()
                if pid:
                    os.kill(pid, 9)
            self.started = False

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        time.sleep(0)
        self.close()
