#!/usr/bin/env bash
# Copyright 2026 the locco authors. MIT license.
# Collects pass/fail counts from the Deno, Node (node --test, spec reporter) and Bun test
# runners, so that CI can end on one aggregate line: "N passed, N failed".
#   scripts/test_counts.sh reset                 forget earlier counts
#   scripts/test_counts.sh run LABEL -- CMD...   run CMD (output shown as usual), record its
#                                                summary under LABEL, exit with CMD's code
#   scripts/test_counts.sh record LABEL P F      record a non-test step as P passed, F failed
#   scripts/test_counts.sh total                 print "N passed, N failed" (skips listed
#                                                before it); exit 1 if anything failed or
#                                                nothing was recorded
# Counts live in $LOCCO_TEST_COUNTS (default .npm-smoke/test_counts.tsv, git-ignored).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNTS="${LOCCO_TEST_COUNTS:-$ROOT/.npm-smoke/test_counts.tsv}"

# Prints "passed failed skipped" from a runner's output (the last summary wins).
parse() {
  local log=$1 p f s line
  # Deno: "ok | 18 passed (3 steps) | 0 failed | 1 ignored (1s)" / "FAILED | 17 passed | 1 failed (1s)"
  line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1)
  if [[ -n $line ]]; then
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '^[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '^[0-9]+')
    s=$(grep -oE '[0-9]+ ignored' <<<"$line" | grep -oE '^[0-9]+' || true)
    echo "${p:-0} ${f:-0} ${s:-0}"
    return 0
  fi
  # node --test (spec/tap reporters): "ℹ pass 18", "ℹ fail 0", "ℹ cancelled 0", "ℹ skipped 1" ("# pass 18" in TAP)
  if grep -qE '^(ℹ|#) pass [0-9]+' "$log"; then
    local c
    p=$(grep -oE '^(ℹ|#) pass [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
    f=$(grep -oE '^(ℹ|#) fail [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
    c=$(grep -oE '^(ℹ|#) cancelled [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
    s=$(grep -oE '^(ℹ|#) skipped [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+$')
    echo "${p:-0} $((${f:-0} + ${c:-0})) ${s:-0}"
    return 0
  fi
  # bun test: " 18 pass", " 0 fail", " 1 skip"
  if grep -qE '^ *[0-9]+ pass$' "$log"; then
    p=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -n 1 | grep -oE '[0-9]+')
    f=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -n 1 | grep -oE '[0-9]+')
    s=$(grep -E '^ *[0-9]+ skip$' "$log" | tail -n 1 | grep -oE '[0-9]+')
    echo "${p:-0} ${f:-0} ${s:-0}"
    return 0
  fi
  return 1
}

case "${1:-}" in
  reset)
    rm -f "$COUNTS"
    ;;
  run)
    label=${2:?label}
    [[ ${3:-} == -- ]] || { echo "usage: $0 run LABEL -- CMD..." >&2; exit 2; }
    shift 3
    mkdir -p "$(dirname "$COUNTS")"
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    # Strip colours so that the summary lines match.
    sed -i 's/\x1b\[[0-9;]*m//g' "$log"
    if counts=$(parse "$log"); then
      read -r p f s <<<"$counts"
      if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi # a crash outside any test still counts
    else
      p=0 f=1 s=0 # no summary at all: the runner did not get to report
    fi
    touch "$COUNTS"
    grep -v -P "^\Q$label\E\t" "$COUNTS" >"$COUNTS.tmp" || true
    printf '%s\t%s\t%s\t%s\n' "$label" "$p" "$f" "$s" >>"$COUNTS.tmp"
    mv "$COUNTS.tmp" "$COUNTS"
    echo "$label: $p passed, $f failed, $s skipped"
    exit "$rc"
    ;;
  record)
    label=${2:?label}
    mkdir -p "$(dirname "$COUNTS")"
    touch "$COUNTS"
    grep -v -P "^\Q$label\E\t" "$COUNTS" >"$COUNTS.tmp" || true
    printf '%s\t%s\t%s\t0\n' "$label" "${3:?passed}" "${4:?failed}" >>"$COUNTS.tmp"
    mv "$COUNTS.tmp" "$COUNTS"
    ;;
  total)
    [[ -s $COUNTS ]] || { echo "0 passed, 1 failed (no test counts recorded)"; exit 1; }
    awk -F'\t' '{ printf "  %s: %d passed, %d failed, %d skipped\n", $1, $2, $3, $4 }' "$COUNTS"
    awk -F'\t' '{ p += $2; f += $3 } END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$COUNTS"
    ;;
  *)
    echo "usage: $0 reset | run LABEL -- CMD... | record LABEL P F | total" >&2
    exit 2
    ;;
esac
