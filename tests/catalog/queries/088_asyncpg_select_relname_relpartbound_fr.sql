-- client: asyncpg
-- params: []
-- columns: [["relname", 19], ["relpartbound", 194]]
SELECT relname, relpartbound FROM pg_catalog.pg_class WHERE relname = 'ohlcv_1min'
