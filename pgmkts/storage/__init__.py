"""Storage engine: buckets of fixed- or variable-length records, one file per UTC year, a WAL.

`from pgmkts.storage import Engine, BucketInfo, TBK, timeframe_seconds` (docs/INTERFACES.md).

On disk (`root/`):
  SYMBOL/TIMEFRAME/ATTRGROUP/meta.json   schema (JSON); names validated in names.py only
  SYMBOL/TIMEFRAME/ATTRGROUP/YYYY.bin    one file per UTC calendar year
  .wal/wal.<first LSN>                   WAL segments: [u32 len][u32 crc32c][lsn, kind, header, columns]
  .wal/checkpoint                        LSN up to which the year files are fsynced
  .wal/catalog.cache, .wal/LOCK, .wal/undo.*   start-up cache, single-engine lock, merge undo

Fixed-length year file: 4 KiB header (lo/hi published slot range), a presence byte per slot,
then one region per column (columnar; sparse file, holes read as empty). The epoch is implied
by the slot, so 1970-01-01 00:00:00 is storable. Variable-length year file: 4 KiB header
(row count, applied LSN) then packed rows sorted by (Epoch, Nanoseconds).

Guarantees: a write returns once its WAL frame is fsynced (wal_sync=commit; group commit) and
applied; readers see a write whole or not at all and never wait for an fsync; after kill -9,
replay restores every acknowledged write exactly once (variable files skip frames <= their
applied LSN); a torn or corrupt WAL tail is cut at the first bad frame.
"""

from pgmkts.storage.catalog import BucketInfo
from pgmkts.storage.engine import Engine
from pgmkts.storage.names import TBK
from pgmkts.storage.timeframe import canonical_timeframe, timeframe_seconds

__all__ = ["Engine", "BucketInfo", "TBK", "timeframe_seconds", "canonical_timeframe"]
