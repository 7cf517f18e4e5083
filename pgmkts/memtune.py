"""Process-wide memory settings of the server: numpy's transparent-huge-page advice.

numpy asks the kernel for transparent huge pages (madvise MADV_HUGEPAGE) on every allocation of
4 MiB or more. Where THP `defrag` is `madvise` (the Debian default), a page fault in such an
allocation compacts memory synchronously whenever no free 2 MiB page is at hand, which a server
with a full page cache meets all the time. Measured on this project's 2-core machines, 20 symbols ×
525,600 bars: binary COPY load 2.6-3.1M → 4.5M rows/s and pymarketstore Write 5.0-5.5M → 6.9-7.1M
rows/s with the advice off (the COPY parse alone 1.8-2.1 s → 1.0 s, its fresh output arrays
faulting in at ~2 µs per 4 KiB page instead of stalling in compaction).
PGMKTS_NUMPY_HUGEPAGE=1 keeps numpy's default.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("pgmkts.memtune")


def tune_numpy_hugepages() -> bool:
    """Turn numpy's huge-page advice off unless PGMKTS_NUMPY_HUGEPAGE=1; True when it is off."""
    if os.environ.get("PGMKTS_NUMPY_HUGEPAGE", "0") == "1":
        return False
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2: the same switch lives in numpy.core
        from numpy.core import multiarray  # type: ignore[no-redef]
    setter = getattr(multiarray, "_set_madvise_hugepage", None)
    if setter is None:  # a numpy without the switch: nothing to undo
        return False
    setter(False)
    log.debug("numpy huge-page advice off")
    return True
