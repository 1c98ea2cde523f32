#!/usr/bin/env bash
# npm run bench: builds dist/drover, then runs every bench/*.ts (files starting with _ are shared code).
# Each benchmark prints its own figures and compares with its reference tool in the same run.
# Pass names to run a subset: npm run bench -- nodes dhcp
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
bun build.ts >/dev/null || exit 1
status=0
for f in bench/*.ts; do
  name=$(basename "$f" .ts)
  case "$name" in _*) continue ;; esac
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
  echo "=== $name"
  bun "$f" || { echo "bench $name failed"; status=1; }
done
exit $status
