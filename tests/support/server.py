"""Start the real pgmkts server in a subprocess on free ports and wait until it answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    root: Path
    port: int
    rpc_port: int
    config: Path | None = None
    proc: subprocess.Popen | None = None
    output: list[str] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=pgmkts dbname=pgmkts"

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}/rpc"

    def start(self, timeout: float = 60.0, extra: list[str] | None = None) -> ServerProcess:
        cmd = [sys.executable, "-m", "pgmkts", "start", "--root", str(self.root),
               "--port", str(self.port), "--rpc-port", str(self.rpc_port), "--no-demo"]
        if self.config:
            cmd += ["--config", str(self.config)]
        cmd += extra or []
        self.output = []
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        ready = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.output.append(line)
                if "pgmkts ready" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("pgmkts did not start:\n" + "".join(self.output))
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)


def start_server(root: Path, config: Path | None = None, extra: list[str] | None = None) -> ServerProcess:
    return ServerProcess(root=root, port=free_port(), rpc_port=free_port(), config=config).start(extra=extra)
