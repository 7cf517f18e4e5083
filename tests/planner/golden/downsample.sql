SELECT time_bucket('1 hour', epoch) AS b, first(open, epoch), max(high), min(low), last(close, epoch), sum(volume) FROM "AAPL/1Min/OHLCV" GROUP BY b
SELECT symbol, time_bucket('5 minutes', epoch), max(high) FROM ohlcv_1min WHERE epoch >= '2024-01-02' GROUP BY 1, 2
SELECT date_trunc('hour', epoch) AS h, count(*), avg(close) FROM "AAPL/1Min/OHLCV" GROUP BY h
SELECT date_bin('15 minutes', epoch, '2024-01-01') AS b, min(low) FROM ohlcv_1min WHERE symbol = 'MSFT' GROUP BY b
SELECT time_bucket('1 hour', epoch) AS b, stddev(close) FROM "AAPL/1Min/OHLCV" GROUP BY b
SELECT time_bucket('1 hour', epoch) AS b, max(high) FROM "AAPL/1Min/OHLCV" WHERE close > 1 GROUP BY b
SELECT symbol, count(*) FROM ohlcv_1min GROUP BY symbol
