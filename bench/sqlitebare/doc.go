// Package sqlitebare is the peer of the patient store's insert benchmark
// on SQLite: the same rows written through modernc.org/sqlite directly,
// with the pragmas of internal/kit/sqldb and no store code in between, so
// bench/RESULTS.md can say what the store adds to the engine's own rate.
package sqlitebare
