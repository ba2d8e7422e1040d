#!/usr/bin/env bash
# bench/search/run.sh: the search benchmark (go run ./bench/search) on
# SQLite and PostgreSQL, its Markdown section in bench/out/search.md (and
# printed), its progress in bench/out/search.log. Arguments go to the
# program (-cases, -queries, -engines). Needs PostgreSQL at
# TEST_DATABASE_URL (default below); it uses a scratch schema of its own
# and drops it. About three minutes at the default 100,000 cases.
set -euo pipefail

cd "$(dirname "$0")/../.."
OUT=bench/out
mkdir -p "$OUT"
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
export TEST_DATABASE_URL

if ! go run ./bench/search "$@" >"$OUT/search.md" 2>"$OUT/search.log"; then
	echo "bench/search failed: see $OUT/search.log" >&2
	tail -n 20 "$OUT/search.log" >&2
	exit 1
fi
cat "$OUT/search.md"
