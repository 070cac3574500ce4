#!/bin/bash
# The start of `shoebox write` in builds A, B, ... interleaved (bench/RESULTS.md, "The start of shoebox write"):
#   bench/write-start-ab.sh RUNS "FLAGS" DIR...
# Each DIR holds a build: DIR/dist/cli/bin.js, with DIR/build (the addon) beside it (a symbolic link will do).
# Input: $F (default the zstd benchmark's 200 MB file), as a regular file on stdin, or through a pipe with PIPE=1;
# stdout and stderr are pipes, as bench/zstd.js gives them. One line a run:
#   NAME <first read> <second read> <exit> CPU <same, CPU ms> | <wall s> <user s> <sys s> (GNU time) | <load>
# (bench/write-start-probe.cjs); at the end, per build, the median [quartiles] of each column.
set -u
RUNS=$1; shift; FLAGS=$1; shift
HERE=$(cd "$(dirname "$0")" && pwd)
F=${F:-$HERE/.data/events-200000000-5eed.ndjson}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
for _ in $(seq "$RUNS"); do
  for d in "$@"; do
    rm -rf "$WORK/out"
    # shellcheck disable=SC2086
    if [ -n "${PIPE:-}" ]; then
      cat "$F" | /usr/bin/time -o "$WORK/time" -f "%e %U %S" node -r "$HERE/write-start-probe.cjs" "$d/dist/cli/bin.js" write "$WORK/out" $FLAGS --roll-size 32MiB 2> "$WORK/err" | cat > /dev/null
    else
      /usr/bin/time -o "$WORK/time" -f "%e %U %S" node -r "$HERE/write-start-probe.cjs" "$d/dist/cli/bin.js" write "$WORK/out" $FLAGS --roll-size 32MiB < "$F" 2> "$WORK/err" | cat > /dev/null
    fi
    echo "$(basename "$d") $(grep PROBE "$WORK/err" | cut -d' ' -f2-) | $(cat "$WORK/time") | $(cut -d' ' -f1 /proc/loadavg)"
  done
done | tee "$WORK/runs"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.replace(/[|]|CPU/g, " ").trim().split(/\s+/))
const by = new Map()
for (const r of rows) if (r.length === 11) by.set(r[0], [...(by.get(r[0]) ?? []), r.slice(1).map(Number)])
const q = (a, p) => { const s = [...a].sort((x, y) => x - y); const i = (s.length - 1) * p; const lo = Math.floor(i); return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo) }
const names = ["read1 ms", "read2 ms", "exit ms", "cpu@read1", "cpu@read2", "cpu@exit", "wall ms", "user ms", "sys ms", "load"]
for (const [name, rs] of by) {
  console.log(name, "n=" + rs.length, names.map((n, k) => { const c = rs.map((r) => r[k] * (k >= 6 && k <= 8 ? 1000 : 1)); return `${n} ${q(c, 0.5).toFixed(1)} [${q(c, 0.25).toFixed(0)}-${q(c, 0.75).toFixed(0)}]` }).join("  "))
}' "$WORK/runs"
