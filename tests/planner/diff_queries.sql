-- one query per line; lines starting with -- are comments. Run against pgmkts and PostgreSQL 15.
-- == scans and time ranges
SELECT * FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02 10:00' AND epoch < '2024-01-02 10:30' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch > '2024-01-02 10:00' AND epoch <= '2024-01-02 10:30' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch BETWEEN '2024-01-03 00:00' AND '2024-01-03 00:20' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch = '2024-01-02 00:05'
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch IN ('2024-01-02 00:05', '2024-01-02 00:07', '2024-01-03 00:00') ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE '2024-01-02 00:10' > epoch ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= to_timestamp(1704240000) AND epoch < to_timestamp(1704240000) + interval '15 minutes' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= timestamptz '2024-01-04 23:50:00+00' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-04 23:50:00+02' AND epoch < '2024-01-04 22:00:00Z' ORDER BY epoch
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-03' AND epoch < '2024-01-04'
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE epoch > '2030-01-01'
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-03' AND epoch > '2024-01-04'
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-03' AND close > 100
SELECT count(*), min(epoch), max(epoch) FROM "MSFT/1Min/OHLCV"
SELECT epoch, open, close FROM "TSLA/1Min/OHLCV" WHERE epoch >= '2024-01-02 11:00' AND epoch < '2024-01-02 11:10' AND (close > open OR volume > 5000) ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02 00:00' AND epoch < '2024-01-02 00:10' AND NOT (volume < 3000) ORDER BY epoch
-- == last N
SELECT * FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 5
SELECT epoch, close FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 3 OFFSET 2
SELECT epoch, close FROM "AAPL/1Min/OHLCV" ORDER BY epoch LIMIT 4
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-03' ORDER BY epoch DESC LIMIT 3
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE volume > 9000 ORDER BY epoch DESC LIMIT 3
SELECT * FROM (SELECT epoch, close FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 10) t ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 0
SELECT symbol, epoch, close FROM ohlcv_1min ORDER BY epoch DESC, symbol LIMIT 6
-- == group table, symbols
SELECT symbol, count(*) FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT count(*) FROM ohlcv_1min WHERE symbol = 'AAPL'
SELECT count(*) FROM ohlcv_1min WHERE symbol IN ('AAPL', 'TSLA')
SELECT count(*) FROM ohlcv_1min WHERE symbol = 'NOPE'
SELECT symbol, epoch, close FROM ohlcv_1min WHERE symbol = 'MSFT' AND epoch >= '2024-01-02 05:00' AND epoch < '2024-01-02 05:05' ORDER BY epoch
SELECT symbol, epoch, close FROM ohlcv_1min WHERE symbol IN ('MSFT','SPY') AND epoch >= '2024-01-02 05:00' AND epoch < '2024-01-02 05:03' ORDER BY symbol, epoch
SELECT symbol, epoch, close FROM ohlcv_1min WHERE symbol <> 'MSFT' AND epoch = '2024-01-02 05:00' ORDER BY symbol
SELECT symbol, epoch, close FROM ohlcv_1min WHERE symbol LIKE 'A%' AND epoch < '2024-01-02 00:03' ORDER BY epoch
SELECT symbol, epoch, close FROM ohlcv_1min WHERE symbol = 'AAPL' AND symbol = 'MSFT'
SELECT symbol, epoch, close FROM ohlcv_1min WHERE lower(symbol) = 'spy' AND epoch < '2024-01-02 00:03' ORDER BY epoch
-- == latest per symbol
SELECT DISTINCT ON (symbol) symbol, epoch, close FROM ohlcv_1min ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) symbol, epoch, close, volume FROM ohlcv_1min WHERE epoch < '2024-01-03' ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) symbol, epoch, close FROM ohlcv_1min WHERE volume > 9990 ORDER BY symbol, epoch DESC
SELECT DISTINCT ON (symbol) symbol, epoch FROM ohlcv_1min ORDER BY symbol, epoch
SELECT DISTINCT ON (symbol) * FROM ohlcv_1min WHERE symbol IN ('AAPL','TSLA') ORDER BY symbol, epoch DESC
-- == downsampling
SELECT time_bucket('1 hour', epoch) AS b, first(open, epoch), max(high), min(low), last(close, epoch), sum(volume) FROM "AAPL/1Min/OHLCV" GROUP BY b ORDER BY b
SELECT time_bucket('5 minutes', epoch) AS b, first(open, epoch) o, max(high) h, min(low) l, last(close, epoch) c, sum(volume) v, count(*) n FROM "MSFT/1Min/OHLCV" WHERE epoch >= '2024-01-02 10:00' AND epoch < '2024-01-02 12:00' GROUP BY b ORDER BY b
SELECT symbol, time_bucket('1 hour', epoch) AS b, first(open, epoch), max(high), min(low), last(close, epoch), sum(volume) FROM ohlcv_1min GROUP BY symbol, b ORDER BY symbol, b
SELECT symbol, time_bucket('1 day', epoch) AS b, max(high), min(low), avg(close), count(*) FROM ohlcv_1min GROUP BY 1, 2 ORDER BY 1, 2
SELECT symbol, time_bucket('1 week', epoch) AS b, count(*) FROM ohlcv_1min GROUP BY 1, 2 ORDER BY 1, 2
SELECT symbol, time_bucket('1 hour', epoch) AS b, min(symbol) AS s, max(symbol) AS t, count(*), sum(volume) FROM ohlcv_1min GROUP BY 1, 2 ORDER BY 1, 2
SELECT date_trunc('hour', epoch) AS h, count(*), sum(volume) FROM "TSLA/1Min/OHLCV" GROUP BY h ORDER BY h
SELECT date_trunc('day', epoch) AS d, symbol, max(close) - min(close) AS rng FROM ohlcv_1min GROUP BY d, symbol ORDER BY d, symbol
SELECT date_bin('15 minutes', epoch, '2024-01-01') AS b, count(*) FROM "SPY/1Min/OHLCV" WHERE epoch < '2024-01-02 03:00' GROUP BY b ORDER BY b
SELECT date_bin('7 minutes', epoch, timestamptz '2024-01-01 00:03:00+00') AS b, sum(volume) FROM "SPY/1Min/OHLCV" WHERE epoch < '2024-01-02 02:00' GROUP BY b ORDER BY b
SELECT time_bucket('30 minutes', epoch) b, avg(volume) FROM ohlcv_1min WHERE symbol = 'AAPL' GROUP BY b HAVING avg(volume) > 5200 ORDER BY b
SELECT time_bucket('2 hours', epoch) AS b, symbol, last(close, epoch) - first(open, epoch) AS chg FROM ohlcv_1min WHERE symbol IN ('AAPL','MSFT') GROUP BY b, symbol ORDER BY b, symbol
SELECT symbol, count(*) FILTER (WHERE close > open) AS up, count(*) FILTER (WHERE close < open) AS down FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT extract(hour from epoch) AS h, count(*) FROM "AAPL/1Min/OHLCV" GROUP BY h ORDER BY h
SELECT time_bucket('1 hour', epoch) AS b, count(*) FROM "AAPL/1Min/OHLCV" GROUP BY b HAVING count(*) < 50 ORDER BY b
-- == aggregates
SELECT count(*), count(close), sum(volume), avg(volume), min(close), max(close) FROM "AAPL/1Min/OHLCV"
SELECT round(stddev(close)::numeric, 3), round(variance(close)::numeric, 3), round(stddev_pop(close)::numeric, 3), round(var_pop(close)::numeric, 3) FROM "AAPL/1Min/OHLCV"
SELECT round(stddev_samp(volume)::numeric, 4) FROM "MSFT/1Min/OHLCV"
SELECT count(DISTINCT symbol) FROM ohlcv_1min
SELECT count(DISTINCT date_trunc('day', epoch)) FROM ohlcv_1min
SELECT sum(DISTINCT volume % 10) FROM "AAPL/1Min/OHLCV"
SELECT bool_and(high >= low), bool_or(volume > 9998) FROM ohlcv_1min
SELECT symbol, bool_and(close > 105) FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT string_agg(symbol, ',') FROM (SELECT DISTINCT symbol FROM ohlcv_1min ORDER BY symbol) s
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY volume) FROM "AAPL/1Min/OHLCV"
SELECT symbol, percentile_cont(0.9) WITHIN GROUP (ORDER BY volume) FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT percentile_disc(0.25) WITHIN GROUP (ORDER BY volume) FROM "TSLA/1Min/OHLCV"
SELECT first(close, epoch), last(close, epoch) FROM "AAPL/1Min/OHLCV"
SELECT symbol, first(epoch, epoch), last(epoch, epoch) FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE epoch > '2030-01-01'
SELECT sum(volume), avg(close), max(close) FROM "AAPL/1Min/OHLCV" WHERE epoch > '2030-01-01'
SELECT symbol, count(*) FROM ohlcv_1min WHERE epoch > '2030-01-01' GROUP BY symbol
SELECT max(volume) - min(volume) AS spread, sum(volume) / count(*) AS mean_int FROM "SPY/1Min/OHLCV"
SELECT symbol, sum(volume) FROM ohlcv_1min GROUP BY symbol HAVING sum(volume) > 0 ORDER BY sum(volume) DESC
SELECT symbol, max(close) AS m FROM ohlcv_1min GROUP BY symbol ORDER BY m
SELECT count(*) FROM ohlcv_1min HAVING count(*) > 10
SELECT symbol, avg(close) FILTER (WHERE volume > 5000) FROM ohlcv_1min GROUP BY symbol ORDER BY 1
SELECT symbol, min(epoch) FILTER (WHERE close > 110) FROM ohlcv_1min GROUP BY symbol ORDER BY 1
-- == expressions
SELECT 1
SELECT 1 + 2 * 3, 7 / 2, -7 / 2, 7 % 3, -7 % 3, 2 ^ 10 AS p
SELECT 7.0 / 2, 1.5 * 2, 10 - 2.5
SELECT abs(-3), abs(-2.5), round(2.567, 2), round(-2.5), floor(2.7), ceil(2.1), ceil(-2.1), sqrt(16), power(2, 8), exp(0), ln(1)
SELECT greatest(1, 5, 3), least(4, 2, 8), greatest(1.5, NULL, 0.5)
SELECT coalesce(NULL, 2, 3), coalesce(NULL, NULL), nullif(1, 1), nullif(1, 2)
SELECT CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' ELSE 'c' END
SELECT CASE 3 WHEN 1 THEN 'one' WHEN 3 THEN 'three' END, CASE WHEN false THEN 1 END
SELECT lower('AbC'), upper('AbC'), length('hello'), substr('hello', 2, 3), substr('hello', 3), 'a' || 'b' || 'c', concat('a', NULL, 'c'), 'x' || NULL
SELECT trim('  x  '), ltrim('  x'), rtrim('x  '), replace('aXbXc', 'X', '-'), split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 5)
SELECT left('hello', 2), right('hello', 3), strpos('hello', 'll'), reverse('abc'), repeat('ab', 3), initcap('hello world')
SELECT 'abc' LIKE 'a%', 'abc' LIKE '_b_', 'ABC' ILIKE 'a%', 'abc' NOT LIKE '%z%'
SELECT NULL IS NULL, 1 IS NOT NULL, NULL = NULL, NULL <> 1
SELECT true AND NULL, false AND NULL, true OR NULL, false OR NULL, NOT NULL::boolean
SELECT 1 IN (1, 2), 3 IN (1, 2), NULL IN (1, 2), 1 IN (2, NULL), 1 NOT IN (2, 3)
SELECT 5 BETWEEN 1 AND 10, 0 BETWEEN 1 AND 10
SELECT '42'::int + 1, 3.7::int, (-3.5)::int, 2.5::int, '1.5'::float8 * 2, 10::text || 'x', true::text, 1::boolean
SELECT '2024-03-01 12:34:56'::timestamptz, '2024-03-01'::date, '2024-03-01 12:00'::timestamptz::date
SELECT to_timestamp(0), to_timestamp(1704153600.5)
SELECT extract(epoch FROM timestamptz '2024-01-02 00:00:00+00'), extract(year FROM timestamptz '2024-05-06 07:08:09+00'), extract(dow FROM timestamptz '2024-01-07 00:00:00+00'), date_part('minute', timestamptz '2024-05-06 07:08:09+00') AS dp
SELECT date_trunc('month', timestamptz '2024-05-06 07:08:09+00'), date_trunc('week', timestamptz '2024-05-08 07:08:09+00'), date_trunc('year', timestamptz '2024-05-06 07:08:09+00'), date_trunc('minute', timestamptz '2024-05-06 07:08:09.5+00')
SELECT timestamptz '2024-01-31 10:00+00' + interval '1 month', timestamptz '2024-01-01 10:00+00' - interval '1 day 2 hours', timestamptz '2024-01-01 00:00+00' + interval '90 minutes'
SELECT timestamptz '2024-03-01 00:00+00' - interval '1 year', timestamptz '2024-01-01 00:00+00' + 3 * interval '1 hour'
SELECT time_bucket('15 minutes', timestamptz '2024-01-02 10:37:00+00'), time_bucket('1 day', timestamptz '2024-01-02 10:37:00+00'), time_bucket('1 week', timestamptz '2024-01-10 10:37:00+00')
SELECT date_bin('1 hour', timestamptz '2024-01-02 10:37:00+00', timestamptz '2000-01-01 00:15:00+00')
SELECT epoch, close, round((close - open)::numeric, 2) AS d FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:05' ORDER BY epoch
SELECT epoch, volume * 2 AS v2, volume / 7 AS v7, volume % 7 AS m7, -volume AS neg FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:05' ORDER BY epoch
SELECT epoch, CASE WHEN close > open THEN 'up' WHEN close < open THEN 'down' ELSE 'flat' END AS dir FROM "MSFT/1Min/OHLCV" WHERE epoch < '2024-01-02 00:10' ORDER BY 1
SELECT epoch, extract(epoch FROM epoch) AS e, extract(minute FROM epoch) AS m FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:04' ORDER BY epoch
SELECT epoch + interval '1 hour' AS later, epoch - interval '30 seconds' AS earlier FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:03' ORDER BY 1
SELECT epoch::date AS d, count(*) FROM "AAPL/1Min/OHLCV" GROUP BY 1 ORDER BY 1
SELECT symbol || ':' || volume::text AS s FROM ohlcv_1min WHERE epoch = '2024-01-02 00:00' ORDER BY 1
SELECT epoch, high - low AS rng, (high + low) / 2 AS mid FROM "TSLA/1Min/OHLCV" WHERE epoch >= '2024-01-02 23:55' AND epoch < '2024-01-03' ORDER BY epoch
SELECT volume::float8 / 1000 AS kv, volume::real AS r FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:03' ORDER BY 1
SELECT abs(close - open) > 0.1 AS big, count(*) FROM "SPY/1Min/OHLCV" GROUP BY 1 ORDER BY 1
SELECT greatest(open, close), least(open, close) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:03' ORDER BY 1
SELECT coalesce(nullif(volume, 0), -1) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:05' ORDER BY epoch
SELECT epoch FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02' AND epoch < '2024-01-02 01:00' AND extract(minute FROM epoch) IN (0, 15, 30, 45) ORDER BY 1
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE volume BETWEEN 100 AND 200
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE volume NOT IN (1, 2, 3)
SELECT count(*) FROM "AAPL/1Min/OHLCV" WHERE close IS NULL
SELECT to_char(timestamptz '2024-05-06 07:08:09+00', 'YYYY-MM-DD HH24:MI:SS')
-- == order by
SELECT symbol, max(close) FROM ohlcv_1min GROUP BY symbol ORDER BY 2 DESC
SELECT v FROM (VALUES (3), (NULL), (1), (2)) t(v) ORDER BY v
SELECT v FROM (VALUES (3), (NULL), (1), (2)) t(v) ORDER BY v DESC
SELECT v FROM (VALUES (3), (NULL), (1), (2)) t(v) ORDER BY v NULLS FIRST
SELECT v FROM (VALUES (3), (NULL), (1), (2)) t(v) ORDER BY v DESC NULLS LAST
SELECT a, b FROM (VALUES (1, 'b'), (1, 'a'), (2, 'c'), (0, NULL)) t(a, b) ORDER BY a DESC, b
SELECT s FROM (VALUES ('b'), ('B'), ('a'), ('_'), ('A')) t(s) ORDER BY s
SELECT epoch, volume FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 01:00' ORDER BY volume DESC, epoch LIMIT 5
SELECT epoch, volume FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 01:00' ORDER BY volume % 10, epoch DESC LIMIT 7
SELECT epoch AS t, close FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:10' ORDER BY t DESC
-- == distinct
SELECT DISTINCT symbol FROM ohlcv_1min ORDER BY symbol
SELECT DISTINCT volume % 3 AS m FROM "AAPL/1Min/OHLCV" ORDER BY m
SELECT DISTINCT date_trunc('day', epoch) AS d, symbol FROM ohlcv_1min ORDER BY d, symbol
SELECT count(*) FROM (SELECT DISTINCT symbol, date_trunc('hour', epoch) FROM ohlcv_1min) s
SELECT DISTINCT ON (d) d, v FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c')) t(d, v) ORDER BY d, v DESC
-- == sub-queries and CTEs
SELECT * FROM (SELECT symbol, count(*) AS n FROM ohlcv_1min GROUP BY symbol) s WHERE n > 0 ORDER BY symbol
SELECT (SELECT max(close) FROM "AAPL/1Min/OHLCV") AS m
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE close = (SELECT max(close) FROM "AAPL/1Min/OHLCV")
SELECT count(*) FROM ohlcv_1min WHERE symbol IN (SELECT symbol FROM ohlcv_1min WHERE close > 125)
SELECT count(*) FROM ohlcv_1min WHERE symbol NOT IN (SELECT 'AAPL')
SELECT EXISTS (SELECT 1 FROM "AAPL/1Min/OHLCV" WHERE volume > 9990), EXISTS (SELECT 1 FROM "AAPL/1Min/OHLCV" WHERE volume > 100000)
WITH h AS (SELECT time_bucket('1 hour', epoch) AS b, max(high) AS hi FROM "AAPL/1Min/OHLCV" GROUP BY b) SELECT count(*), max(hi) FROM h
WITH a AS (SELECT symbol, avg(close) AS ac FROM ohlcv_1min GROUP BY symbol), b AS (SELECT avg(ac) AS m FROM a) SELECT symbol FROM a, b WHERE ac > m ORDER BY symbol
WITH x(n) AS (VALUES (1), (2), (3)) SELECT sum(n) FROM x
SELECT symbol, (SELECT count(*) FROM ohlcv_1min o2 WHERE o2.symbol = o1.symbol AND o2.volume > 9990) FROM (SELECT DISTINCT symbol FROM ohlcv_1min) o1 ORDER BY 1
SELECT * FROM (SELECT epoch, close, lag(close) OVER (ORDER BY epoch) AS prev FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:20') t WHERE prev IS NOT NULL AND close > prev ORDER BY epoch
-- == set operations
SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 1 ORDER BY 1
SELECT 1 AS x UNION SELECT 2 UNION SELECT 1 ORDER BY x
SELECT symbol FROM ohlcv_1min WHERE symbol < 'N' INTERSECT SELECT symbol FROM ohlcv_1min WHERE symbol > 'B' ORDER BY 1
SELECT DISTINCT symbol FROM ohlcv_1min EXCEPT SELECT 'AAPL' ORDER BY 1
SELECT epoch, 'a' AS s FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:02' UNION ALL SELECT epoch, 'm' FROM "MSFT/1Min/OHLCV" WHERE epoch < '2024-01-02 00:02' ORDER BY 1, 2
SELECT v FROM (VALUES (1), (1), (2)) a(v) EXCEPT ALL SELECT v FROM (VALUES (1)) b(v) ORDER BY 1
SELECT v FROM (VALUES (1), (1), (2)) a(v) INTERSECT ALL SELECT v FROM (VALUES (1), (1), (1)) b(v)
-- == joins
SELECT a.epoch, a.close AS aapl, m.close AS msft FROM "AAPL/1Min/OHLCV" a JOIN "MSFT/1Min/OHLCV" m ON a.epoch = m.epoch WHERE a.epoch < '2024-01-02 00:10' ORDER BY 1
SELECT a.epoch, a.close, m.close FROM "AAPL/1Min/OHLCV" a LEFT JOIN "MSFT/1Min/OHLCV" m ON a.epoch = m.epoch WHERE a.epoch < '2024-01-02 00:30' ORDER BY 1
SELECT count(*) FROM "AAPL/1Min/OHLCV" a JOIN "MSFT/1Min/OHLCV" m USING (epoch)
SELECT count(*) FROM "AAPL/1Min/OHLCV" a RIGHT JOIN "MSFT/1Min/OHLCV" m ON a.epoch = m.epoch
SELECT count(*) FROM "AAPL/1Min/OHLCV" a FULL JOIN "MSFT/1Min/OHLCV" m ON a.epoch = m.epoch
SELECT o.symbol, o.epoch, l.close FROM (SELECT symbol, max(epoch) AS epoch FROM ohlcv_1min GROUP BY symbol) o JOIN ohlcv_1min l ON l.symbol = o.symbol AND l.epoch = o.epoch ORDER BY 1
SELECT s.n, v.l FROM (VALUES (1), (2)) s(n) CROSS JOIN (VALUES ('x'), ('y')) v(l) ORDER BY 1, 2
SELECT s.n, v.l FROM (VALUES (1), (2), (3)) s(n), (VALUES (1, 'x'), (3, 'z')) v(n, l) WHERE s.n = v.n ORDER BY 1
SELECT s.n, v.l FROM (VALUES (1), (2), (3)) s(n) JOIN (VALUES (1, 'x'), (3, 'z')) v(k, l) ON s.n < v.k ORDER BY 1, 2
SELECT a.symbol, b.symbol FROM (SELECT DISTINCT symbol FROM ohlcv_1min) a JOIN (SELECT DISTINCT symbol FROM ohlcv_1min) b ON a.symbol < b.symbol ORDER BY 1, 2
SELECT d.symbol, d.n, t.total FROM (SELECT symbol, count(*) n FROM ohlcv_1min GROUP BY symbol) d CROSS JOIN (SELECT count(*) total FROM ohlcv_1min) t ORDER BY 1
-- == window functions
SELECT epoch, close, row_number() OVER (ORDER BY epoch) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:10' ORDER BY epoch
SELECT epoch, close, lag(close) OVER (ORDER BY epoch), lead(close) OVER (ORDER BY epoch), lag(close, 2, 0) OVER (ORDER BY epoch) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:10' ORDER BY epoch
SELECT symbol, epoch, close - lag(close) OVER (PARTITION BY symbol ORDER BY epoch) AS chg FROM ohlcv_1min WHERE epoch < '2024-01-02 00:05' ORDER BY symbol, epoch
SELECT symbol, epoch, sum(volume) OVER (PARTITION BY symbol ORDER BY epoch) AS cum FROM ohlcv_1min WHERE epoch < '2024-01-02 00:06' ORDER BY symbol, epoch
SELECT symbol, epoch, avg(close) OVER (PARTITION BY symbol ORDER BY epoch ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma3 FROM ohlcv_1min WHERE epoch < '2024-01-02 00:08' ORDER BY symbol, epoch
SELECT symbol, epoch, max(high) OVER (PARTITION BY symbol ORDER BY epoch ROWS BETWEEN 3 PRECEDING AND CURRENT ROW), min(low) OVER (PARTITION BY symbol ORDER BY epoch ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM ohlcv_1min WHERE epoch < '2024-01-02 00:08' ORDER BY symbol, epoch
SELECT symbol, epoch, count(*) OVER (PARTITION BY symbol) AS n, sum(volume) OVER (PARTITION BY symbol) FROM ohlcv_1min WHERE epoch < '2024-01-02 00:04' ORDER BY symbol, epoch
SELECT v, rank() OVER (ORDER BY v), dense_rank() OVER (ORDER BY v), row_number() OVER (ORDER BY v, w) FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c'), (3, 'd'), (3, 'e')) t(v, w) ORDER BY v, w
SELECT v, sum(v) OVER (ORDER BY v) FROM (VALUES (1), (2), (2), (3)) t(v) ORDER BY v
SELECT v, first_value(v) OVER (ORDER BY v), last_value(v) OVER (ORDER BY v) FROM (VALUES (1), (2), (2), (3)) t(v) ORDER BY v
SELECT v, last_value(v) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM (VALUES (1), (2), (3)) t(v) ORDER BY v
SELECT epoch, min(close) OVER (ORDER BY epoch), max(close) OVER (ORDER BY epoch) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:10' ORDER BY epoch
SELECT symbol, epoch, close FROM (SELECT symbol, epoch, close, row_number() OVER (PARTITION BY symbol ORDER BY epoch DESC) AS rn FROM ohlcv_1min) t WHERE rn <= 2 ORDER BY symbol, epoch
SELECT time_bucket('1 hour', epoch) AS b, sum(volume), sum(sum(volume)) OVER (ORDER BY time_bucket('1 hour', epoch)) FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 05:00' GROUP BY b ORDER BY b
SELECT v, ntile(2) OVER (ORDER BY v) FROM (VALUES (1), (2), (3), (4), (5)) t(v) ORDER BY v
-- == no FROM, VALUES, generate_series
SELECT 'hello' AS greeting, 2 AS n
VALUES (1, 'a'), (2, 'b')
SELECT * FROM (VALUES (1, 'a'), (2, NULL)) AS t(n, s) ORDER BY n
SELECT * FROM generate_series(1, 5) AS g(x)
SELECT sum(x) FROM generate_series(1, 100) AS g(x)
SELECT x FROM generate_series(10, 1, -3) AS g(x)
SELECT t FROM generate_series(timestamptz '2024-01-01 00:00+00', timestamptz '2024-01-01 02:00+00', interval '30 minutes') AS g(t)
SELECT g.t, a.close FROM generate_series(timestamptz '2024-01-02 00:00+00', timestamptz '2024-01-02 00:10+00', interval '1 minute') AS g(t) LEFT JOIN "AAPL/1Min/OHLCV" a ON a.epoch = g.t ORDER BY 1
SELECT current_database() IS NOT NULL, current_schema(), pg_backend_pid() > 0
SELECT count(*) FROM (SELECT 1) s
-- == more expressions and NULL handling
SELECT n, n IS DISTINCT FROM 2 AS d FROM (VALUES (1), (2), (NULL)) t(n) ORDER BY n
SELECT sum(n), avg(n), count(n), count(*), min(n), max(n) FROM (VALUES (1), (NULL), (3)) t(n)
SELECT sum(n) FROM (VALUES (NULL::int), (NULL)) t(n)
SELECT string_agg(s, '-') FROM (VALUES ('a'), (NULL), ('c')) t(s)
SELECT coalesce(s, 'none') FROM (VALUES ('a'), (NULL)) t(s) ORDER BY 1
SELECT n FROM (VALUES (1), (NULL), (3)) t(n) WHERE n > 1 OR n IS NULL ORDER BY n
SELECT n FROM (VALUES (1), (NULL), (3)) t(n) WHERE NOT (n > 1) ORDER BY n
SELECT CASE WHEN n IS NULL THEN 'null' WHEN n > 1 THEN 'big' ELSE 'small' END AS c, count(*) FROM (VALUES (1), (NULL), (3), (5)) t(n) GROUP BY 1 ORDER BY 1
SELECT length(s), upper(s), s || '!' FROM (VALUES ('abc'), ('xy'), (NULL)) t(s) ORDER BY 1
SELECT lpad('7', 3, '0'), rpad('ab', 4, '*'), md5('abc'), starts_with('hello', 'he')
SELECT 10 / 3, 10.0 / 4, 10 % 4, -10 / 3, abs(-10) / 3
SELECT 2147483647::bigint + 1, 9223372036854775807 - 1
SELECT round(10.5), round(11.5), round(-0.5), round(1.005, 2), round(123.456, -1)
SELECT trunc(2.7), trunc(-2.7), trunc(2.789, 2)
SELECT sign(-3), sign(0), sign(4.5)
SELECT 3 > 2 AND 2 > 1, 'a' < 'b', 'abc' = 'abc', 1 <> 1
SELECT CAST('123' AS integer) + 1, CAST(1.75 AS integer), CAST('t' AS boolean), CAST(42 AS text)
SELECT '1 day'::interval + timestamptz '2024-02-28 12:00+00', timestamptz '2024-03-01 00:00+00' - interval '1 day'
SELECT extract(epoch FROM interval '1 hour 30 minutes'), extract(epoch FROM timestamptz '2024-01-01 00:00:00.5+00')
SELECT extract(doy FROM timestamptz '2024-12-31 00:00+00') AS doy, extract(quarter FROM timestamptz '2024-08-01 00:00+00') AS q, extract(month FROM timestamptz '2024-08-01 00:00+00') AS m, extract(day FROM timestamptz '2024-08-09 00:00+00') AS d
SELECT extract(isodow FROM timestamptz '2024-01-07 00:00+00') AS a, extract(dow FROM timestamptz '2024-01-08 00:00+00') AS b, extract(second FROM timestamptz '2024-01-08 00:00:07.25+00') AS c
SELECT timestamptz '2024-01-02 00:00+00' < timestamptz '2024-01-03 00:00+00', date '2024-01-02' < timestamptz '2024-01-02 12:00+00'
SELECT to_timestamp(1704153600) = timestamptz '2024-01-02 00:00:00+00'
SELECT date_trunc('quarter', timestamptz '2024-05-06 07:08:09+00'), date_trunc('second', timestamptz '2024-05-06 07:08:09.99+00')
SELECT time_bucket('3 hours', timestamptz '2024-01-02 10:37:00+00'), time_bucket('90 minutes', timestamptz '2024-01-02 10:37:00+00')
SELECT date_bin('1 day', timestamptz '2024-01-02 10:37:00+00', timestamptz '2024-01-01 09:30:00+00')
SELECT to_char(timestamptz '2024-05-06 17:08:09+00', 'YYYY/MM/DD') AS a, to_char(timestamptz '2024-05-06 17:08:09+00', 'HH24:MI') AS b
-- == more time-series shapes
SELECT epoch, close FROM "MSFT/1Min/OHLCV" WHERE epoch >= '2024-01-03 12:00' ORDER BY epoch LIMIT 5
SELECT max(epoch) FROM "TSLA/1Min/OHLCV"
SELECT symbol, max(epoch) AS last_ts FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT symbol, last(close, epoch) AS last_close, first(close, epoch) AS first_close FROM ohlcv_1min WHERE epoch >= '2024-01-03' AND epoch < '2024-01-04' GROUP BY symbol ORDER BY symbol
SELECT time_bucket('1 hour', epoch) AS b, avg(close) AS avg_close, max(volume) FROM ohlcv_1min WHERE symbol = 'SPY' AND epoch < '2024-01-02 06:00' GROUP BY b ORDER BY b DESC LIMIT 3
SELECT time_bucket('10 minutes', epoch) AS b, sum(volume * close) / sum(volume) AS vwap FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 01:00' GROUP BY b ORDER BY b
SELECT symbol, count(*) AS bars, count(*) * 100 / 4320 AS pct FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT epoch, close, avg(close) OVER (ORDER BY epoch ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) AS sma10 FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:30' ORDER BY epoch
SELECT epoch, volume, sum(volume) OVER (ORDER BY epoch ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS v5 FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:15' ORDER BY epoch
SELECT epoch, close, (close - lag(close, 5) OVER (ORDER BY epoch)) / lag(close, 5) OVER (ORDER BY epoch) AS ret5 FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:20' ORDER BY epoch
SELECT epoch, close FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02' AND epoch < '2024-01-02 01:00' AND close > (SELECT avg(close) FROM "AAPL/1Min/OHLCV" WHERE epoch >= '2024-01-02' AND epoch < '2024-01-02 01:00') ORDER BY epoch
SELECT gap, count(*) FROM (SELECT epoch - lag(epoch) OVER (ORDER BY epoch) > interval '1 minute' AS gap FROM "AAPL/1Min/OHLCV") t GROUP BY 1 ORDER BY 1
SELECT count(*) FROM (SELECT epoch, epoch - lag(epoch) OVER (ORDER BY epoch) AS d FROM "MSFT/1Min/OHLCV") t WHERE d > interval '5 minutes'
SELECT a.epoch, a.close - m.close AS spread FROM ohlcv_1min a JOIN ohlcv_1min m ON a.epoch = m.epoch AND m.symbol = 'MSFT' WHERE a.symbol = 'AAPL' AND a.epoch < '2024-01-02 00:05' ORDER BY 1
SELECT s.symbol, s.n FROM (SELECT symbol, count(*) AS n FROM ohlcv_1min GROUP BY symbol) s WHERE s.n = (SELECT max(n) FROM (SELECT count(*) AS n FROM ohlcv_1min GROUP BY symbol) x)
SELECT symbol, epoch, close FROM ohlcv_1min WHERE (symbol, epoch) IN (SELECT symbol, max(epoch) FROM ohlcv_1min GROUP BY symbol) ORDER BY symbol
-- == more grouping
SELECT volume % 2 AS parity, symbol, count(*) FROM ohlcv_1min GROUP BY volume % 2, symbol ORDER BY 1, 2
SELECT upper(lower(symbol)) AS s, count(*) FROM ohlcv_1min GROUP BY upper(lower(symbol)) ORDER BY 1
SELECT symbol FROM ohlcv_1min GROUP BY symbol HAVING max(close) - min(close) > 5 ORDER BY symbol
SELECT symbol, count(*) FILTER (WHERE extract(hour FROM epoch) < 12) AS am, count(*) FILTER (WHERE extract(hour FROM epoch) >= 12) AS pm FROM ohlcv_1min GROUP BY symbol ORDER BY symbol
SELECT count(*) AS n, sum(CASE WHEN close > open THEN 1 ELSE 0 END) AS up FROM "AAPL/1Min/OHLCV"
SELECT min(symbol), max(symbol) FROM ohlcv_1min
SELECT array_agg(symbol) FROM (SELECT DISTINCT symbol FROM ohlcv_1min ORDER BY symbol) s
SELECT avg(x), stddev(x), variance(x) FROM (VALUES (1.0::float8), (2.0), (4.0)) t(x)
SELECT stddev(x), var_samp(x) AS vs FROM (VALUES (5.0::float8)) t(x)
SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY x), percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM (VALUES (1), (2), (3), (4)) t(x)
SELECT bool_and(b), bool_or(b), every(b) FROM (VALUES (true), (false), (NULL::boolean)) t(b)
SELECT k, count(DISTINCT v), sum(DISTINCT v) FROM (VALUES (1, 1), (1, 1), (1, 2), (2, 3)) t(k, v) GROUP BY k ORDER BY k
-- == more joins / sets / ctes
SELECT l.k, r.v FROM (VALUES (1), (2), (3)) l(k) LEFT JOIN (VALUES (1, 'a'), (1, 'b'), (3, 'c')) r(k, v) ON l.k = r.k ORDER BY 1, 2
SELECT l.k, r.v FROM (VALUES (1), (2)) l(k) FULL JOIN (VALUES (2, 'b'), (4, 'd')) r(k, v) ON l.k = r.k ORDER BY 1, 2
SELECT l.k, r.v FROM (VALUES (NULL::int), (1)) l(k) JOIN (VALUES (NULL::int, 'n'), (1, 'one')) r(k, v) ON l.k = r.k
SELECT * FROM (VALUES (1, 'x')) a(k, v) JOIN (VALUES (1, 'y')) b(k, w) USING (k)
WITH t AS (SELECT symbol, close FROM ohlcv_1min WHERE epoch = '2024-01-02 00:00'), u AS (SELECT * FROM t WHERE close > 100) SELECT count(*) FROM u
WITH RECENT AS (SELECT * FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 10) SELECT count(*), min(epoch) < max(epoch) FROM recent
SELECT 1 AS a UNION ALL SELECT 2.5 ORDER BY 1
SELECT 'a' AS s UNION SELECT 'b' UNION SELECT 'a' ORDER BY 1 DESC
SELECT x FROM generate_series(1, 10) g(x) EXCEPT SELECT x FROM generate_series(1, 10, 2) g(x) ORDER BY 1
SELECT * FROM (SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y') t WHERE a > 1
SELECT count(*) FROM generate_series(1, 3) a(x) CROSS JOIN generate_series(1, 4) b(y)
SELECT x, x * x AS sq FROM generate_series(1, 5) AS g(x) WHERE x % 2 = 1 ORDER BY x DESC
-- == order/limit/offset edge cases
SELECT epoch, close FROM "AAPL/1Min/OHLCV" ORDER BY epoch DESC LIMIT 2 OFFSET 10000
SELECT x FROM generate_series(1, 10) g(x) ORDER BY x LIMIT 3 OFFSET 2
SELECT x FROM generate_series(1, 10) g(x) OFFSET 8
SELECT DISTINCT x % 3 AS r FROM generate_series(1, 10) g(x) ORDER BY r DESC
SELECT x, -x AS neg FROM generate_series(1, 4) g(x) ORDER BY neg
SELECT symbol, close FROM ohlcv_1min WHERE epoch = '2024-01-02 00:00' ORDER BY close DESC NULLS LAST, symbol
-- == recursion, correlation, limit without order
WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT sum(n), count(*) FROM t
WITH RECURSIVE t(n) AS (VALUES (1) UNION SELECT (n * 2) % 7 FROM t) SELECT n FROM t ORDER BY n
SELECT symbol FROM (SELECT DISTINCT symbol FROM ohlcv_1min) o WHERE EXISTS (SELECT 1 FROM ohlcv_1min i WHERE i.symbol = o.symbol AND i.volume > 9995) ORDER BY 1
SELECT v FROM (VALUES (1), (2), (3)) a(v) WHERE v IN (SELECT w FROM (VALUES (1), (3)) b(w) WHERE w >= a.v - 0) ORDER BY 1
SELECT count(*) FROM (SELECT * FROM "AAPL/1Min/OHLCV" LIMIT 7) t
SELECT count(*) FROM (SELECT close FROM ohlcv_1min LIMIT 5 OFFSET 3) t
SELECT count(*) FROM ohlcv_1min WHERE symbol = ANY(ARRAY['AAPL', 'MSFT'])
SELECT count(*) FROM ohlcv_1min WHERE volume > ALL(ARRAY[9990, 9000]) OR volume < ANY(ARRAY[3, 5])
SELECT epoch AT TIME ZONE 'America/New_York' FROM "AAPL/1Min/OHLCV" WHERE epoch < '2024-01-02 00:02' ORDER BY 1
SELECT interval '1 day 2 hours' AS a, timestamptz '2024-01-02 00:00+00' - timestamptz '2024-01-01 10:00+00' AS b, interval '3 days' AS c, interval '90 seconds' AS d
SELECT repeat('x', -1) AS a, lpad('hello', 3) AS b, lpad('hi', 6, 'ab') AS c, rpad('hi', 5, 'xy') AS d, lpad('x', -2) AS e
