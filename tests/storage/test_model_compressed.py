"""The storage state machine (test_model.py) with storage_compression: zstd, plus a rule that
compacts every past year now: reads, writes and deletes then meet compressed year files."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import rule

from tests.storage.test_model import EngineModel


class CompressedEngineModel(EngineModel):
    engine_kw = {"compression": "zstd"}

    @rule()
    def compact(self):
        self.engine.compact()

    @rule()
    def checkpoint(self):
        self.engine.checkpoint()


CompressedEngineModel.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                                   suppress_health_check=[HealthCheck.too_slow])
TestCompressedEngineModel = CompressedEngineModel.TestCase
