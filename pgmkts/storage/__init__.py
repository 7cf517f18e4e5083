"""Storage engine: buckets of fixed- or variable-length records, one file per year, a WAL.

`from pgmkts.storage import Engine, BucketInfo, TBK, timeframe_seconds` (docs/INTERFACES.md).
"""

from pgmkts.storage.catalog import BucketInfo
from pgmkts.storage.engine import Engine
from pgmkts.storage.names import TBK
from pgmkts.storage.timeframe import canonical_timeframe, timeframe_seconds

__all__ = ["Engine", "BucketInfo", "TBK", "timeframe_seconds", "canonical_timeframe"]
