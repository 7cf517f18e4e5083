"""pgmkts.memtune: the server turns numpy's huge-page advice off (and the opt-out keeps it)."""

from __future__ import annotations

import pytest
from numpy._core import multiarray

from pgmkts.memtune import tune_numpy_hugepages


@pytest.fixture
def restore_advice():
    before = multiarray._set_madvise_hugepage(True)
    multiarray._set_madvise_hugepage(before)
    yield
    multiarray._set_madvise_hugepage(before)


def test_advice_turned_off(restore_advice, monkeypatch):
    monkeypatch.delenv("PGMKTS_NUMPY_HUGEPAGE", raising=False)
    multiarray._set_madvise_hugepage(True)
    assert tune_numpy_hugepages() is True
    assert multiarray._set_madvise_hugepage(False) is False   # returns the previous setting


def test_opt_out_keeps_numpy_default(restore_advice, monkeypatch):
    monkeypatch.setenv("PGMKTS_NUMPY_HUGEPAGE", "1")
    multiarray._set_madvise_hugepage(True)
    assert tune_numpy_hugepages() is False
    assert multiarray._set_madvise_hugepage(True) is True
