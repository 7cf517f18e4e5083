"""kill -9 of a process writing through ondiskagg, then reopen (WAL replay) + rebuild_all: the
destinations equal a from-scratch recomputation of whatever the base bucket holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from pgmkts.plugins.ondiskagg import OnDiskAgg
from pgmkts.storage import Engine

from .test_ondiskagg import assert_dest_equals_scratch

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from pgmkts.plugins.ondiskagg import OnDiskAgg
    from pgmkts.storage import Engine
    from tests.plugins.test_ondiskagg import bars
    eng = Engine(sys.argv[1])
    agg = OnDiskAgg(eng, "*/1Min/OHLCV", {"destinations": ["5Min", "1H", "1D"]}, "UTC")
    eng.subscribe(agg.fire)
    rng = np.random.default_rng(int(sys.argv[2]))
    i = 0
    while True:  # until killed: random out-of-order batches over four days
        eng.write("K9/1Min/OHLCV", bars(rng, rng.choice(4 * 1440, 200, replace=False)))
        i += 1
        print(i, flush=True)
""")


def test_kill9_then_reopen_and_rebuild(tmp_path):
    root = tmp_path / "data"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root), "42"], stdout=subprocess.PIPE,
                            cwd=repo, text=True)
    try:
        for _ in range(15):  # let it commit a few batches (and fire the trigger) before the kill
            line = proc.stdout.readline()
            assert line, "writer exited early"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()
    with Engine(root) as eng:
        assert eng.read("K9/1Min/OHLCV")["Epoch"].size > 0
        agg = OnDiskAgg(eng, "*/1Min/OHLCV", {"destinations": ["5Min", "1H", "1D"]}, "UTC")
        agg.rebuild_all()
        assert_dest_equals_scratch(eng, "K9/1Min/OHLCV", ["5Min", "1H", "1D"])
    with Engine(root) as eng:  # and it stays so across a clean restart
        assert_dest_equals_scratch(eng, "K9/1Min/OHLCV", ["5Min", "1H", "1D"])
