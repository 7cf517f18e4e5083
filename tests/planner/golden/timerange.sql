SELECT * FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02' AND epoch < '2024-01-03'
SELECT close FROM "AAPL/1Min/OHLCV" WHERE '2024-01-02' <= epoch AND epoch <= '2024-01-03' AND close > 100
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch BETWEEN to_timestamp(1704153600) AND to_timestamp(1704240000)
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch > now() - interval '1 day'
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch = '2024-01-02 00:05'
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch IN ('2024-01-02 00:05', '2024-01-02 00:07')
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch >= $1 AND epoch < $2
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch > '2024-01-02' OR close > 1
SELECT close FROM "AAPL/1Min/OHLCV" WHERE epoch + interval '1 hour' > '2024-01-02'
