"""The click CLI: init writes a config that start accepts; start refuses bad configs in one line."""

from __future__ import annotations

import socket
import subprocess
import sys

from click.testing import CliRunner

from pgmkts.cli import main
from pgmkts.config import load_config


def test_init_writes_default_config(tmp_path):
    p = tmp_path / "mkts.yml"
    r = CliRunner().invoke(main, ["init", "--config", str(p)])
    assert r.exit_code == 0, r.output
    assert load_config(p).listen_port == 5993
    r = CliRunner().invoke(main, ["init", "--config", str(p)])
    assert r.exit_code != 0 and "exists" in r.output


def _start(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pgmkts", "start", *args], capture_output=True,
                          text=True, timeout=60)


def test_start_bad_key_is_one_line(tmp_path):
    cfg = tmp_path / "mkts.yml"
    cfg.write_text("root_directory: data\nlisten_prot: 5993\n")
    r = _start("--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "listen_prot" in r.stderr and "listen_port" in r.stderr
    assert "Traceback" not in r.stderr


def test_start_port_in_use_names_the_key(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _start("--root", str(tmp_path / "d"), "--port", str(port), "--rpc-port", "0")
    assert r.returncode == 2, r.stderr
    assert "listen_port" in r.stderr and "in use" in r.stderr and "Traceback" not in r.stderr


def test_start_unwritable_root_names_the_key(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    r = _start("--root", str(f / "sub"), "--port", "0", "--rpc-port", "0")
    assert r.returncode == 2
    assert "root_directory" in r.stderr and "Traceback" not in r.stderr
