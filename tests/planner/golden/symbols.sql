SELECT * FROM ohlcv_1min WHERE symbol = 'AAPL'
SELECT close FROM ohlcv_1min WHERE symbol IN ('AAPL', 'MSFT') AND epoch >= '2024-01-02'
SELECT close FROM ohlcv_1min WHERE 'TSLA' = symbol AND volume > 10
SELECT close FROM ohlcv_1min WHERE symbol = $1
SELECT close FROM ohlcv_1min WHERE symbol LIKE 'A%'
SELECT close FROM ohlcv_1min o WHERE o.symbol = 'SPY'
