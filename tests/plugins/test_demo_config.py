"""demo_feeder settings from mkts.yml: a wrong interval is a ConfigError naming the worker (not a
ValueError traceback at start-up); a single symbol may be written as a string."""

from __future__ import annotations

import pytest

from pgmkts import errors
from pgmkts.plugins import load_bgworkers
from pgmkts.storage import Engine


@pytest.fixture
def engine(tmp_path):
    with Engine(tmp_path / "data") as eng:
        yield eng


@pytest.mark.parametrize("interval", ["fast", [1], float("nan"), 0])
def test_bad_interval_is_a_config_error(engine, interval):
    cfg = [{"module": "demo_feeder", "config": {"interval": interval}}]
    with pytest.raises(errors.ConfigError, match=r"bgworkers\[0\]: demo_feeder: interval"):
        load_bgworkers(engine, cfg, "UTC")


def test_symbols_as_a_string(engine):
    (w,) = load_bgworkers(engine, [{"module": "demo_feeder", "config": {"symbols": "DEMO-X, DEMO-Y"}}])
    assert w.symbols == ["DEMO-X", "DEMO-Y"]
    with pytest.raises(errors.ConfigError, match="DEMO-"):
        load_bgworkers(engine, [{"module": "demo_feeder", "config": {"symbols": "AAPL"}}])
