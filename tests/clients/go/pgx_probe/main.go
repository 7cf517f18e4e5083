// pgx v4 against pgmkts: prints one JSON object per step on stdout (see tests/clients/test_go_drivers.py).
// Usage: pgx_probe DSN. Built in GOPATH mode against Debian's golang-github-jackc-pgx-v4-dev.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

const bucket = `"GOTEST/1Min/OHLCV"`

var ctx = context.Background()

func emit(step string, v interface{}) {
	b, err := json.Marshal(map[string]interface{}{"step": step, "value": v})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
}

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func main() {
	conn, err := pgx.Connect(ctx, os.Args[1])
	if err != nil {
		fail("connect", err)
	}
	defer conn.Close(ctx)
	if len(os.Args) > 2 && os.Args[2] == "gaps" {
		gaps(conn)
		return
	}

	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		fail("version", err)
	}
	emit("version", version)

	// timestamptz / real / double precision results, a timestamptz parameter (binary both ways)
	t0 := time.Date(2024, 1, 2, 0, 2, 0, 0, time.UTC)
	rows, err := conn.Query(ctx, `SELECT epoch, close, close::float8 * 2 AS dbl FROM `+bucket+
		` WHERE epoch >= $1 ORDER BY epoch LIMIT 3`, t0)
	if err != nil {
		fail("select", err)
	}
	var sel [][]interface{}
	for rows.Next() {
		var epoch time.Time
		var close float32
		var dbl float64
		if err := rows.Scan(&epoch, &close, &dbl); err != nil {
			fail("select scan", err)
		}
		sel = append(sel, []interface{}{ts(epoch), close, dbl})
	}
	if err := rows.Err(); err != nil {
		fail("select rows", err)
	}
	emit("select", sel)

	// an explicitly prepared statement, executed 7 times (pgx also caches every query it prepares)
	if _, err := conn.Prepare(ctx, "close_at", `SELECT close FROM `+bucket+` WHERE epoch = $1`); err != nil {
		fail("prepare", err)
	}
	var prepared []float64
	for i := 0; i < 7; i++ {
		var close float64
		at := time.Date(2024, 1, 2, 0, i, 0, 0, time.UTC)
		if err := conn.QueryRow(ctx, "close_at", at).Scan(&close); err != nil {
			fail("prepared", err)
		}
		prepared = append(prepared, close)
	}
	emit("prepared", prepared)

	// the same ad-hoc query 7 times: pgx's statement cache re-executes the cached prepared statement
	var cached []int64
	for i := 0; i < 7; i++ {
		var volume int64
		at := time.Date(2024, 1, 2, 0, i, 0, 0, time.UTC)
		if err := conn.QueryRow(ctx, `SELECT volume FROM `+bucket+` WHERE epoch = $1`, at).Scan(&volume); err != nil {
			fail("cached", err)
		}
		cached = append(cached, volume)
	}
	emit("cached", cached)

	// INSERT with parameters, then read it back
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tag, err := conn.Exec(ctx, `INSERT INTO `+bucket+` (epoch, open, high, low, close, volume) VALUES ($1, $2, $3, $4, $5, $6)`,
		at, float32(1.5), float32(2.5), float32(0.5), float32(2.25), int64(4242))
	if err != nil {
		fail("insert", err)
	}
	emit("insert", tag.String())
	var back []interface{}
	var bEpoch time.Time
	var bClose float32
	var bVolume int64
	if err := conn.QueryRow(ctx, `SELECT epoch, close, volume FROM `+bucket+` WHERE epoch = $1`, at).Scan(&bEpoch, &bClose, &bVolume); err != nil {
		fail("insert readback", err)
	}
	back = append(back, ts(bEpoch), bClose, bVolume)
	emit("readback", back)

	// the group table, symbol as a text parameter (symbol and epoch only: other tests' buckets in
	// ohlcv_1min may have marketstore-style "Open"... columns, see test_go_drivers.py)
	rows, err = conn.Query(ctx, `SELECT symbol, epoch FROM ohlcv_1min WHERE symbol = $1 AND epoch < $2 ORDER BY epoch LIMIT 2`,
		"GOTEST", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		fail("group", err)
	}
	var group [][]interface{}
	for rows.Next() {
		var symbol string
		var epoch time.Time
		if err := rows.Scan(&symbol, &epoch); err != nil {
			fail("group scan", err)
		}
		group = append(group, []interface{}{symbol, ts(epoch)})
	}
	if err := rows.Err(); err != nil {
		fail("group rows", err)
	}
	emit("group", group)

	// an unknown table: SQLSTATE 42P01, and the connection stays usable
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM no_such_table_go`).Scan(&n)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		emit("error", pgErr.Code)
	} else {
		emit("error", fmt.Sprint(err))
	}
	if err := conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil {
		fail("after error", err)
	}
	emit("after_error", n)

	// a transaction rolled back leaves nothing behind
	tx, err := conn.Begin(ctx)
	if err != nil {
		fail("begin", err)
	}
	rb := time.Date(2030, 1, 1, 1, 0, 0, 0, time.UTC)
	if _, err := tx.Exec(ctx, `INSERT INTO `+bucket+` (epoch, close, volume) VALUES ($1, $2, $3)`, rb, float32(9), int64(9)); err != nil {
		fail("tx insert", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		fail("rollback", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+bucket+` WHERE epoch = $1`, rb).Scan(&n); err != nil {
		fail("after rollback", err)
	}
	emit("rollback", n)

	// a batch (pipelined extended-protocol queries)
	batch := &pgx.Batch{}
	for i := 0; i < 3; i++ {
		batch.Queue(`SELECT volume FROM `+bucket+` WHERE epoch = $1`, time.Date(2024, 1, 2, 0, 7+i, 0, 0, time.UTC))
	}
	br := conn.SendBatch(ctx, batch)
	var batched []int64
	for i := 0; i < 3; i++ {
		var v int64
		if err := br.QueryRow().Scan(&v); err != nil {
			fail("batch", err)
		}
		batched = append(batched, v)
	}
	if err := br.Close(); err != nil {
		fail("batch close", err)
	}
	emit("batch", batched)

	// COPY FROM STDIN (binary), then count
	var src [][]interface{}
	for i := 0; i < 3; i++ {
		src = append(src, []interface{}{time.Date(2031, 1, 1, 0, i, 0, 0, time.UTC), float32(i) + 0.5, int64(i)})
	}
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"GOTEST/1Min/OHLCV"}, []string{"epoch", "close", "volume"}, pgx.CopyFromRows(src))
	if err != nil {
		fail("copy", err)
	}
	var sum int64
	if err := conn.QueryRow(ctx, `SELECT count(*), sum(volume) FROM `+bucket+` WHERE epoch >= $1 AND epoch < $2`,
		time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2031, 1, 1, 1, 0, 0, 0, time.UTC)).Scan(&n, &sum); err != nil {
		fail("copy count", err)
	}
	emit("copy", []int64{copied, int64(n), sum})

	// the simple protocol with a parameter interpolated by pgx, and a non-UTC time.Time
	tokyo := time.FixedZone("JST", 9*3600)
	var simple []interface{}
	var sEpoch time.Time
	var sClose float64
	if err := conn.QueryRow(ctx, `SELECT epoch, close FROM `+bucket+` WHERE epoch >= $1 ORDER BY epoch LIMIT 1`,
		pgx.QuerySimpleProtocol(true), time.Date(2024, 1, 2, 9, 5, 0, 0, tokyo)).Scan(&sEpoch, &sClose); err != nil {
		fail("simple", err)
	}
	simple = append(simple, ts(sEpoch), sClose)
	emit("simple", simple)

	// = ANY($1) with Go slices (pgx sends typed binary arrays)
	var anyVol []int64
	rows, err = conn.Query(ctx, `SELECT volume FROM `+bucket+` WHERE volume = ANY($1) ORDER BY epoch`, []int64{100, 300})
	if err != nil {
		fail("any", err)
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			fail("any scan", err)
		}
		anyVol = append(anyVol, v)
	}
	if err := rows.Err(); err != nil {
		fail("any rows", err)
	}
	emit("any", anyVol)
	var symbol string
	if err := conn.QueryRow(ctx, `SELECT symbol, count(*) FROM ohlcv_1min WHERE symbol = ANY($1) AND epoch < $2 GROUP BY symbol`,
		[]string{"GOTEST", "NOSUCHSYM"}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).Scan(&symbol, &n); err != nil {
		fail("any symbol", err)
	}
	emit("any_symbol", []interface{}{symbol, n})
}

// gaps: queries that fail today; printed as {"step", "value"} or {"step", "error"}.
func gaps(conn *pgx.Conn) {
	var d time.Duration
	if err := conn.QueryRow(ctx, `SELECT '90 seconds'::interval`).Scan(&d); err != nil {
		b, _ := json.Marshal(map[string]interface{}{"step": "interval", "error": err.Error()})
		fmt.Println(string(b))
		return
	}
	emit("interval", d.String())
}
