SELECT DISTINCT ON (symbol) symbol, epoch, close FROM ohlcv_1min ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) * FROM ohlcv_1min WHERE symbol IN ('AAPL', 'MSFT') AND epoch < '2024-01-03' ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) symbol, close FROM ohlcv_1min WHERE close > 100 ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) symbol, close FROM ohlcv_1min ORDER BY symbol, epoch
