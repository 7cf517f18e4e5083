"""One exception tree for the whole server; every class carries its PostgreSQL SQLSTATE.

The wire layer turns any `PgmktsError` into an ErrorResponse with `sqlstate`; the RPC layer
turns it into a MarketStore-style error reply with `str(exc)`.
"""

from __future__ import annotations


class PgmktsError(Exception):
    """Base class. `sqlstate` follows PostgreSQL's errcodes (Appendix A)."""

    sqlstate = "XX000"
    severity = "ERROR"

    def __init__(self, message: str, *, detail: str | None = None, hint: str | None = None,
                 position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        self.position = position  # 1-based character offset into the query, as PostgreSQL reports


class InternalError(PgmktsError):
    sqlstate = "XX000"


# --- class 08/28/53/57: connection, auth, resources, operator intervention
class ProtocolViolation(PgmktsError):
    sqlstate = "08P01"


class InvalidPassword(PgmktsError):
    sqlstate = "28P01"


class InvalidAuthorization(PgmktsError):
    sqlstate = "28000"


class TooManyConnections(PgmktsError):
    sqlstate = "53300"


class ProgramLimitExceeded(PgmktsError):
    sqlstate = "54000"


class QueryCanceled(PgmktsError):
    sqlstate = "57014"


class AdminShutdown(PgmktsError):
    sqlstate = "57P01"


# --- class 0A/25/42: statements
class FeatureNotSupported(PgmktsError):
    sqlstate = "0A000"


class InFailedTransaction(PgmktsError):
    sqlstate = "25P02"


class ReadOnlyTransaction(PgmktsError):
    sqlstate = "25006"


class InsufficientPrivilege(PgmktsError):
    sqlstate = "42501"


class SyntaxError_(PgmktsError):
    sqlstate = "42601"


class UndefinedTable(PgmktsError):
    sqlstate = "42P01"


class UndefinedColumn(PgmktsError):
    sqlstate = "42703"


class UndefinedFunction(PgmktsError):
    sqlstate = "42883"


class UndefinedObject(PgmktsError):
    sqlstate = "42704"


class DuplicateTable(PgmktsError):
    sqlstate = "42P07"


class AmbiguousColumn(PgmktsError):
    sqlstate = "42702"


class GroupingError(PgmktsError):
    sqlstate = "42803"


class InvalidColumnReference(PgmktsError):
    """ORDER BY of a DISTINCT query that does not match its select list / DISTINCT ON keys."""

    sqlstate = "42P10"


class DatatypeMismatch(PgmktsError):
    sqlstate = "42804"


class InvalidPreparedStatement(PgmktsError):
    sqlstate = "26000"


class InvalidCursorName(PgmktsError):
    sqlstate = "34000"


# --- class 22/23: data
class DataError(PgmktsError):
    sqlstate = "22000"


class InvalidTextRepresentation(PgmktsError):
    sqlstate = "22P02"


class InvalidBinaryRepresentation(PgmktsError):
    sqlstate = "22P03"


class InvalidDatetimeFormat(PgmktsError):
    sqlstate = "22007"


class DatetimeFieldOverflow(PgmktsError):
    sqlstate = "22008"


class NumericValueOutOfRange(PgmktsError):
    sqlstate = "22003"


class DivisionByZero(PgmktsError):
    sqlstate = "22012"


class CharacterNotInRepertoire(PgmktsError):
    sqlstate = "22021"


class InvalidParameterValue(PgmktsError):
    sqlstate = "22023"


class InvalidRegularExpression(PgmktsError):
    sqlstate = "2201B"


class BadCopyFileFormat(PgmktsError):
    sqlstate = "22P04"


class CardinalityViolation(PgmktsError):
    """A scalar sub-query returned more than one row."""

    sqlstate = "21000"


class IntegrityError(PgmktsError):
    sqlstate = "23000"


class NotNullViolation(PgmktsError):
    sqlstate = "23502"


class CheckViolation(PgmktsError):
    sqlstate = "23514"


# --- storage-level errors (raised by pgmkts.storage, mapped to SQLSTATEs above)
class InvalidName(PgmktsError):
    """A symbol/timeframe/group name that could escape the root or create odd files."""

    sqlstate = "42602"  # invalid_name


class SchemaMismatch(PgmktsError):
    """A write whose columns differ from the bucket's fixed schema."""

    sqlstate = "23514"


class BucketNotFound(PgmktsError):
    sqlstate = "42P01"


class ConfigError(PgmktsError):
    """A bad mkts.yml key or value; start-up prints one line naming the key."""

    sqlstate = "F0000"
