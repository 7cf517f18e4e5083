"""Fixtures for storage tests: an Engine on a temporary directory, closed afterwards."""

from __future__ import annotations

import os

import pytest

from pgmkts.storage import Engine


@pytest.fixture
def engine_factory(tmp_path):
    engines: list[Engine] = []

    def make(**kw) -> Engine:
        kw.setdefault("wal_rotate_interval", 0)
        e = Engine(tmp_path / "data", **kw)
        engines.append(e)
        return e

    yield make
    for e in engines:
        e.close()


@pytest.fixture
def engine(engine_factory) -> Engine:
    return engine_factory()


@pytest.fixture
def fast_tmp(tmp_path):
    """A scratch directory on tmpfs when there is one: tests that copy and delete data
    directories hundreds of times are dominated by the disk otherwise (not by the engine)."""
    import shutil
    import tempfile
    from pathlib import Path

    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="pgmkts-test-", dir="/dev/shm"))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path
