"""The connection state enum and the two control-flow exceptions shared by connection.py and
the protocol mixins (kept apart so the mixins need not import the I/O module)."""

from __future__ import annotations

import enum

from pgmkts import errors


class State(enum.Enum):
    STARTUP = "startup"
    AUTH = "auth"
    IDLE = "idle"
    BUSY = "busy"
    EXT_ERROR = "ext_error"    # an extended-protocol message failed: discard until Sync
    COPY_IN = "copy_in"
    CLOSED = "closed"


class Fatal(Exception):
    """Send this ErrorResponse with severity FATAL and close the connection."""

    def __init__(self, exc: errors.PgmktsError) -> None:
        super().__init__(exc.message)
        self.exc = exc


class _Closed(Exception):
    """The peer went away (EOF/reset) — nothing more to send."""
