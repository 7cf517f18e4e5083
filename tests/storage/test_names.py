import pytest

from pgmkts import errors
from pgmkts.storage import TBK, canonical_timeframe, timeframe_seconds
from pgmkts.storage.names import safe_join, validate_part


@pytest.mark.parametrize("s,expected", [
    ("AAPL/1Min/OHLCV", ("AAPL", "1Min", "OHLCV")),
    ("AAPL/1Min/OHLCV:Symbol/Timeframe/AttributeGroup", ("AAPL", "1Min", "OHLCV")),
    ("BTC-USD/1T/OHLCV", ("BTC-USD", "1Min", "OHLCV")),
    ("BRK.B/1D/OHLCV", ("BRK.B", "1D", "OHLCV")),
    ("^GSPC/5S/TICK", ("^GSPC", "5Sec", "TICK")),
    ("EUR=X/1H/OHLCV", ("EUR=X", "1H", "OHLCV")),
    ("A_B+C@$/1W/x", ("A_B+C@$", "1W", "x")),
    ("Ünïcode/1Min/OHLCV", ("Ünïcode", "1Min", "OHLCV")),
])
def test_parse_ok(s, expected):
    t = TBK.parse(s)
    assert (t.symbol, t.timeframe, t.attrgroup) == expected
    assert str(t) == "/".join(expected)


HOSTILE = [
    "", "AAPL", "AAPL/1Min", "AAPL/1Min/OHLCV/x", "../1Min/OHLCV", "../../etc/passwd",
    "./1Min/OHLCV", "../x/y", "AAPL/../OHLCV", "AAPL/1Min/..", ".hidden/1Min/OHLCV",
    "A\\B/1Min/OHLCV", "A\x00B/1Min/OHLCV", "A\nB/1Min/OHLCV", "A\tB/1Min/OHLCV", "A\x7fB/1Min/OHLCV",
    "*/1Min/OHLCV", "A,B/1Min/OHLCV", "X" * 129 + "/1Min/OHLCV", "AAPL/1Min/OHLCV:Other/Schema/x",
    " AAPL/1Min/OHLCV", "AAPL/1X/OHLCV", "AAPL/0Min/OHLCV", "AAPL/-1Min/OHLCV", "AAPL/Min/OHLCV",
    "AAPL/1Y/OHLCV", "AAPL/1.5Min/OHLCV", "A\ud800/1Min/OHLCV", "A\u2028B/1Min/OHLCV",
]


@pytest.mark.parametrize("s", HOSTILE)
def test_parse_hostile(s):
    with pytest.raises(errors.InvalidName):
        TBK.parse(s)


def test_parse_non_string():
    with pytest.raises(errors.InvalidName):
        TBK.parse(None)
    with pytest.raises(errors.InvalidName):
        TBK.parse(b"AAPL/1Min/OHLCV")


def test_max_length_ok():
    t = TBK.parse("X" * 128 + "/1Min/OHLCV")
    assert t.symbol == "X" * 128


def test_safe_join(tmp_path):
    assert safe_join(tmp_path, "a", "b").startswith(str(tmp_path))
    for bad in ("..", ".", "a/b", ""):
        with pytest.raises(errors.InvalidName):
            safe_join(tmp_path, bad)
    with pytest.raises(errors.InvalidName):
        validate_part("..")


def test_path_stays_under_root(tmp_path):
    p = TBK.parse("AAPL/1Min/OHLCV").path(tmp_path)
    assert p == str(tmp_path / "AAPL" / "1Min" / "OHLCV")


@pytest.mark.parametrize("tf,sec,canon", [
    ("1Sec", 1, "1Sec"), ("1S", 1, "1Sec"), ("10Sec", 10, "10Sec"), ("30S", 30, "30Sec"),
    ("1Min", 60, "1Min"), ("1T", 60, "1Min"), ("5Min", 300, "5Min"), ("15T", 900, "15Min"),
    ("1H", 3600, "1H"), ("4H", 14400, "4H"), ("1D", 86400, "1D"), ("1W", 604800, "1W"),
    ("01Min", 60, "1Min"),
])
def test_timeframes(tf, sec, canon):
    assert timeframe_seconds(tf) == sec
    assert canonical_timeframe(tf) == canon


@pytest.mark.parametrize("tf", ["", "Min", "0Min", "-1Min", "1.5H", "1M", "1Y", "1X", "1min", " 1Min",
                                "1Sec ", "100W", "１Min"])
def test_bad_timeframes(tf):
    with pytest.raises(errors.InvalidParameterValue):
        timeframe_seconds(tf)
