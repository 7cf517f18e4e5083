"""Stateful property test: the Engine against an in-memory model (writes, deletes, reads, reopen)."""

from __future__ import annotations

import os
import shutil
import tempfile

import hypothesis.strategies as st
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pgmkts.storage import Engine

NS = 1_000_000_000
T0 = 1704067200 - 300  # five minutes before 2024: writes straddle a year boundary
FIX = "M/1Min/OHLCV"
VAR = "M/1Sec/TICK"

epochs = st.integers(min_value=T0 - 600, max_value=T0 + 1200)
bounds = st.one_of(st.none(), st.integers(min_value=(T0 - 700) * NS, max_value=(T0 + 1300) * NS))


def _floor(e: int) -> int:
    ys = 1704067200 if e >= 1704067200 else 1672531200
    return ys + (e - ys) // 60 * 60


class EngineModel(RuleBasedStateMachine):
    engine_kw: dict = {}  # test_model_compressed.py runs the same machine with compression on

    @initialize()
    def setup(self):
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None  # many reopens: keep it in memory
        self.dir = tempfile.mkdtemp(prefix="pgmkts-model-", dir=shm)
        self.engine = Engine(self.dir, wal_rotate_interval=0, **self.engine_kw)
        self.fixed: dict[int, tuple[float, int]] = {}
        self.var: list[tuple[int, int, int, float]] = []  # (epoch, ns, seq, value)
        self.seq = 0
        self.engine.create(FIX, [("v", "f8"), ("w", "i4")])
        self.engine.create(VAR, [("v", "f8")], variable_length=True)

    def teardown(self):
        if hasattr(self, "engine"):
            self.engine.close()
            shutil.rmtree(self.dir, ignore_errors=True)

    @rule(rows=st.lists(st.tuples(epochs, st.floats(allow_nan=False, width=64), st.integers(-5, 5)),
                        max_size=30))
    def write_fixed(self, rows):
        data = {"Epoch": np.array([r[0] for r in rows], np.int64),
                "v": np.array([r[1] for r in rows], np.float64),
                "w": np.array([r[2] for r in rows], np.int64)}  # coerced to i4
        assert self.engine.write(FIX, data) == len(rows)
        for e, v, w in rows:
            self.fixed[_floor(e)] = (v, w)

    @rule(rows=st.lists(st.tuples(epochs, st.integers(0, NS - 1), st.floats(allow_nan=False)), max_size=30),
          with_ns=st.booleans())
    def write_var(self, rows, with_ns):
        data = {"Epoch": np.array([r[0] for r in rows], np.int64), "v": np.array([r[2] for r in rows])}
        if with_ns:
            data["Nanoseconds"] = np.array([r[1] for r in rows], np.int32)
        self.engine.write(VAR, data)
        for e, ns, v in rows:
            self.var.append((e, ns if with_ns else 0, self.seq, v))
            self.seq += 1
        self.var.sort(key=lambda r: (r[0], r[1], r[2]))

    @rule(a=bounds, b=bounds)
    def delete_fixed(self, a, b):
        n = self.engine.delete(FIX, a, b)
        gone = [e for e in self.fixed if (a is None or e * NS >= a) and (b is None or e * NS <= b)]
        assert n == len(gone)
        for e in gone:
            del self.fixed[e]

    @rule(a=bounds, b=bounds)
    def delete_var(self, a, b):
        n = self.engine.delete(VAR, a, b)
        keep = [r for r in self.var if not ((a is None or r[0] * NS + r[1] >= a) and
                                            (b is None or r[0] * NS + r[1] <= b))]
        assert n == len(self.var) - len(keep)
        self.var = keep

    @rule(a=bounds, b=bounds, limit=st.one_of(st.none(), st.integers(0, 40)), from_end=st.booleans())
    def read_fixed(self, a, b, limit, from_end):
        got = self.engine.read(FIX, a, b, limit=limit, from_end=from_end)
        exp = sorted(e for e in self.fixed if (a is None or e * NS >= a) and (b is None or e * NS <= b))
        if limit is not None:
            exp = exp[max(0, len(exp) - limit):] if from_end and limit else ([] if from_end else exp[:limit])
        assert got["Epoch"].tolist() == exp
        assert got["v"].tolist() == [self.fixed[e][0] for e in exp]
        assert got["w"].tolist() == [self.fixed[e][1] for e in exp]

    @rule(a=bounds, b=bounds, limit=st.one_of(st.none(), st.integers(0, 40)), from_end=st.booleans())
    def read_var(self, a, b, limit, from_end):
        got = self.engine.read(VAR, a, b, limit=limit, from_end=from_end)
        exp = [r for r in self.var if (a is None or r[0] * NS + r[1] >= a) and (b is None or r[0] * NS + r[1] <= b)]
        if limit is not None:
            exp = exp[max(0, len(exp) - limit):] if from_end and limit else ([] if from_end else exp[:limit])
        assert got["Epoch"].tolist() == [r[0] for r in exp]
        assert got["Nanoseconds"].tolist() == [r[1] for r in exp]
        assert got["v"].tolist() == [r[3] for r in exp]

    @rule()
    def reopen(self):
        self.engine.close()
        self.engine = Engine(self.dir, wal_rotate_interval=0, **self.engine_kw)

    @rule()
    def crash_and_reopen(self):
        self.engine._simulate_crash()
        self.engine = Engine(self.dir, wal_rotate_interval=0, **self.engine_kw)

    @precondition(lambda self: hasattr(self, "engine"))
    @invariant()
    def last_epoch(self):
        assert self.engine.last_epoch(FIX) == (max(self.fixed) if self.fixed else None)
        assert self.engine.last_epoch(VAR) == (self.var[-1][0] if self.var else None)


EngineModel.TestCase.settings = settings(max_examples=80, stateful_step_count=30, deadline=None,
                                         suppress_health_check=[HealthCheck.too_slow])
TestEngineModel = EngineModel.TestCase
