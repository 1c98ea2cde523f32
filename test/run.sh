#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
#   1. as root, install the Debian packages in test/debian-packages.txt that are missing
#      (no daemon is started: a temporary policy-rc.d refuses service starts during the install);
#   2. make sure node_modules is there (npm install) and build dist/drover;
#   3. run every test with bun test and print one closing line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

want=$(grep -v '^\s*#' test/debian-packages.txt | tr -s ' \n' '\n' | grep -v '^$' || true)
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test/run.sh: installing Debian packages: ${missing[*]}"
    policy=/usr/sbin/policy-rc.d
    had_policy=0; [ -e "$policy" ] && had_policy=1
    if [ $had_policy = 0 ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; fi
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}") >/tmp/drover-apt.log 2>&1 \
      || { echo "test/run.sh: apt-get failed; see /tmp/drover-apt.log"; tail -20 /tmp/drover-apt.log; }
    [ $had_policy = 0 ] && rm -f "$policy"
  else
    echo "test/run.sh: not root, so not installing: ${missing[*]} (tests that need them will skip)"
  fi
fi

if [ ! -x node_modules/.bin/bun ]; then
  npm install --no-audit --no-fund || exit 1
fi
bun build.ts || exit 1

log=$(mktemp)
bun test "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
skip=$(grep -Eo '^ *[0-9]+ skip$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
rm -f "$log"
echo "tests: ${pass} passed, ${fail} failed, ${skip} skipped"
exit "$rc"
