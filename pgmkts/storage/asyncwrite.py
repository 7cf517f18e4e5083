"""A small durable write run on the event loop, awaiting its fsync instead of blocking a thread.

The wire's parametrised INSERT and the RPC's small Write used to hop loop -> worker thread ->
syncer thread -> worker -> loop; each hop is a futex wake plus a GIL hand-off (up to a switch
interval when the other thread is busy). Here the loop validates, logs and writes the rows
itself (Engine.deferred), the syncer thread fsyncs and publishes, and one call_soon_threadsafe
wakes the loop to answer: two hops, both to an idle thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pgmkts.storage.engine import WouldBlock

T = TypeVar("T")
NOT_INLINE: Any = object()  # run_deferred's answer when fn must run in a worker thread instead


async def run_deferred(engine: Any, fn: Callable[[], T]) -> T:
    """fn() on this loop with its first engine write deferred; returns once that write is
    durable and published (raising its error if the fsync or the apply failed). Returns
    NOT_INLINE, having written nothing, when the write would have had to block."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def done(err: BaseException | None) -> None:  # on the thread that published the write
        try:
            loop.call_soon_threadsafe(_resolve, fut, err)
        except RuntimeError:  # the loop closed meanwhile (shutdown): nobody is waiting
            pass

    try:
        with engine.deferred(done) as scope:
            out = fn()
    except WouldBlock:
        return NOT_INLINE
    if scope.lsn:
        # a cancelled wait (client gone) leaves the commit to finish on its own
        await fut
    return out


def _resolve(fut: asyncio.Future[None], err: BaseException | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(None)
