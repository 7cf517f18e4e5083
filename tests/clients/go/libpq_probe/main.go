// lib/pq (database/sql) against pgmkts: prints one JSON object per step on stdout
// (see tests/clients/test_go_drivers.py). Usage: libpq_probe DSN.
// Built in GOPATH mode against Debian's golang-github-lib-pq-dev.
package main

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lib/pq"
)

const bucket = `"GOTEST/1Min/OHLCV"`

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
	db, err := sql.Open("postgres", os.Args[1]+" sslmode=disable")
	if err != nil {
		fail("open", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one session: the error case below must not cost a new connection
	if len(os.Args) > 2 && os.Args[2] == "gaps" {
		gaps(db)
		return
	}

	var version string
	if err := db.QueryRow("SELECT version()").Scan(&version); err != nil {
		fail("version", err)
	}
	emit("version", version)

	// timestamptz / real / double precision results (text format), a timestamptz parameter
	// (lib/pq: unnamed statement, Parse/Describe/Bind/Execute)
	t0 := time.Date(2024, 1, 2, 0, 2, 0, 0, time.UTC)
	rows, err := db.Query(`SELECT epoch, close, close::float8 * 2 AS dbl FROM `+bucket+
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
	rows.Close()
	emit("select", sel)

	// a prepared (named) statement, executed 7 times
	stmt, err := db.Prepare(`SELECT close FROM ` + bucket + ` WHERE epoch = $1`)
	if err != nil {
		fail("prepare", err)
	}
	var prepared []float64
	for i := 0; i < 7; i++ {
		var close float64
		at := time.Date(2024, 1, 2, 0, i, 0, 0, time.UTC)
		if err := stmt.QueryRow(at).Scan(&close); err != nil {
			fail("prepared", err)
		}
		prepared = append(prepared, close)
	}
	stmt.Close()
	emit("prepared", prepared)

	// the same ad-hoc query 7 times (an unnamed statement each time)
	var cached []int64
	for i := 0; i < 7; i++ {
		var volume int64
		at := time.Date(2024, 1, 2, 0, i, 0, 0, time.UTC)
		if err := db.QueryRow(`SELECT volume FROM `+bucket+` WHERE epoch = $1`, at).Scan(&volume); err != nil {
			fail("cached", err)
		}
		cached = append(cached, volume)
	}
	emit("cached", cached)

	// INSERT with parameters, then read it back
	at := time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)
	res, err := db.Exec(`INSERT INTO `+bucket+` (epoch, open, high, low, close, volume) VALUES ($1, $2, $3, $4, $5, $6)`,
		at, 1.5, 2.5, 0.5, 3.25, int64(4343))
	if err != nil {
		fail("insert", err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		fail("insert rows affected", err)
	}
	emit("insert", affected)
	var back []interface{}
	var bEpoch time.Time
	var bClose float32
	var bVolume int64
	if err := db.QueryRow(`SELECT epoch, close, volume FROM `+bucket+` WHERE epoch = $1`, at).Scan(&bEpoch, &bClose, &bVolume); err != nil {
		fail("insert readback", err)
	}
	back = append(back, ts(bEpoch), bClose, bVolume)
	emit("readback", back)

	// the group table, symbol as a text parameter (symbol and epoch only: other tests' buckets in
	// ohlcv_1min may have marketstore-style "Open"... columns, see test_go_drivers.py)
	rows, err = db.Query(`SELECT symbol, epoch FROM ohlcv_1min WHERE symbol = $1 AND epoch < $2 ORDER BY epoch LIMIT 2`,
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
	rows.Close()
	emit("group", group)

	// an unknown table: SQLSTATE 42P01, and the connection stays usable
	var n int
	err = db.QueryRow(`SELECT count(*) FROM no_such_table_go`).Scan(&n)
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		emit("error", string(pqErr.Code))
	} else {
		emit("error", fmt.Sprint(err))
	}
	if err := db.QueryRow("SELECT 41 + 1").Scan(&n); err != nil {
		fail("after error", err)
	}
	emit("after_error", n)

	// a transaction rolled back leaves nothing behind
	tx, err := db.Begin()
	if err != nil {
		fail("begin", err)
	}
	rb := time.Date(2030, 1, 1, 1, 1, 0, 0, time.UTC)
	if _, err := tx.Exec(`INSERT INTO `+bucket+` (epoch, close, volume) VALUES ($1, $2, $3)`, rb, 9.0, int64(9)); err != nil {
		fail("tx insert", err)
	}
	if err := tx.Rollback(); err != nil {
		fail("rollback", err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM `+bucket+` WHERE epoch = $1`, rb).Scan(&n); err != nil {
		fail("after rollback", err)
	}
	emit("rollback", n)

	// COPY FROM STDIN (text) through pq.CopyIn inside a transaction, then count
	tx, err = db.Begin()
	if err != nil {
		fail("copy begin", err)
	}
	cp, err := tx.Prepare(pq.CopyIn("GOTEST/1Min/OHLCV", "epoch", "close", "volume"))
	if err != nil {
		fail("copy prepare", err)
	}
	for i := 0; i < 3; i++ {
		if _, err := cp.Exec(time.Date(2031, 1, 1, 1, i, 0, 0, time.UTC), float64(i)+0.5, int64(10+i)); err != nil {
			fail("copy row", err)
		}
	}
	if _, err := cp.Exec(); err != nil {
		fail("copy flush", err)
	}
	if err := cp.Close(); err != nil {
		fail("copy close", err)
	}
	if err := tx.Commit(); err != nil {
		fail("copy commit", err)
	}
	var sum int64
	if err := db.QueryRow(`SELECT count(*), sum(volume) FROM `+bucket+` WHERE epoch >= $1 AND epoch < $2`,
		time.Date(2031, 1, 1, 1, 0, 0, 0, time.UTC), time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)).Scan(&n, &sum); err != nil {
		fail("copy count", err)
	}
	emit("copy", []int64{int64(n), sum})

	// a non-UTC time.Time parameter (sent as text with its offset)
	tokyo := time.FixedZone("JST", 9*3600)
	var zoned []interface{}
	var zEpoch time.Time
	var zClose float64
	if err := db.QueryRow(`SELECT epoch, close FROM `+bucket+` WHERE epoch >= $1 ORDER BY epoch LIMIT 1`,
		time.Date(2024, 1, 2, 9, 5, 0, 0, tokyo)).Scan(&zEpoch, &zClose); err != nil {
		fail("zoned", err)
	}
	zoned = append(zoned, ts(zEpoch), zClose)
	emit("zoned", zoned)

	// = ANY($1) with pq.Array (a text-format array of unknown type, as lib/pq sends every parameter)
	emit("any", int64s(db, `SELECT volume FROM `+bucket+` WHERE volume = ANY($1) ORDER BY epoch`, pq.Array([]int64{100, 300})))
	emit("any_epoch", int64s(db, `SELECT volume FROM `+bucket+` WHERE epoch = ANY($1) ORDER BY epoch`,
		pq.Array([]string{"2024-01-02 00:01:00+00", "2024-01-02 00:03:00+00"})))
}

func int64s(db *sql.DB, q string, args ...interface{}) []int64 {
	rows, err := db.Query(q, args...)
	if err != nil {
		fail(q, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			fail(q, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		fail(q, err)
	}
	return out
}

// gaps: queries that fail today; printed as {"step", "value"} or {"step", "error"}.
func gaps(db *sql.DB) {
	var s string
	if err := db.QueryRow(`SELECT '90 seconds'::interval`).Scan(&s); err != nil {
		b, _ := json.Marshal(map[string]interface{}{"step": "interval", "error": err.Error()})
		fmt.Println(string(b))
	} else {
		emit("interval", s)
	}
	var symbol string
	var n int64
	err := db.QueryRow(`SELECT symbol, count(*) FROM ohlcv_1min WHERE symbol = ANY($1) AND epoch < $2 GROUP BY symbol`,
		pq.Array([]string{"GOTEST", "NOSUCHSYM"}), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).Scan(&symbol, &n)
	if err != nil {
		b, _ := json.Marshal(map[string]interface{}{"step": "any_symbol", "error": err.Error()})
		fmt.Println(string(b))
	} else {
		emit("any_symbol", []interface{}{symbol, n})
	}
}
