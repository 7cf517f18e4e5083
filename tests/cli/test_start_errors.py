"""Start-up mistakes end in one line naming the setting (exit 2), never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from pgmkts.cli import main
from pgmkts.config import parse_config
from pgmkts.errors import ConfigError
from pgmkts.storage import Engine
from tests.support.server import free_port


def test_same_port_for_postgresql_and_rpc(tmp_path):
    port = str(free_port())
    r = subprocess.run([sys.executable, "-m", "pgmkts", "start", "--root", str(tmp_path / "d"),
                        "--port", port, "--rpc-port", port], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "listen_port and rpc_listen_port" in r.stderr and "Traceback" not in r.stderr


def test_port_out_of_range_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["start", "--root", str(tmp_path / "d"), "--port", "70000"])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "70000" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("tz", ["America", "Europe/", "Mars/Olympus"])
def test_time_zone_that_is_a_tzdata_directory(tz):
    with pytest.raises(ConfigError, match="timezone: unknown time zone"):
        parse_config({"timezone": tz})


def test_root_in_use_by_another_engine(tmp_path):
    with Engine(tmp_path / "d"):
        r = subprocess.run([sys.executable, "-m", "pgmkts", "start", "--root", str(tmp_path / "d"),
                            "--port", "0", "--rpc-port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "root_directory" in r.stderr and "in use" in r.stderr and "Traceback" not in r.stderr


def test_init_into_a_missing_directory(tmp_path):
    r = CliRunner().invoke(main, ["init", "--config", str(tmp_path / "no" / "such" / "mkts.yml")])
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit)
    assert "cannot write" in r.stderr
