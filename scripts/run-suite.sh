#!/usr/bin/env bash
# Runs the test suite the way a machine that never ran ccpulse would see it (issue 17):
#   - TMPDIR is a new, empty directory, removed afterwards: nothing an earlier run left in
#     the temporary directory (a data directory, a cache, a socket) can make a test pass;
#   - no CCPULSE_* variable of the caller's shell reaches the tests or the workers they start
#     (a CCPULSE_CONFIG or CCPULSE_TEST_KAFKA there would change what is tested), except the
#     suite's own knobs of how long to hunt (CCPULSE_HYPOTHESIS_EXAMPLES, _RELIABILITY_RUNS,
#     _FUZZ_RUNS), which change how much is tested, not what.
# Usage: scripts/run-suite.sh PYTHON [pytest arguments...]
set -euo pipefail
python=$1
shift
fresh=$(mktemp -d "${TMPDIR:-/tmp}/ccpulse-suite.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
while read -r name; do
  unset "$name"
done < <(compgen -e | grep '^CCPULSE_' \
         | grep -vxE 'CCPULSE_(HYPOTHESIS_EXAMPLES|RELIABILITY_RUNS|FUZZ_RUNS)' || true)
export TMPDIR=$fresh
echo "test suite: TMPDIR=$fresh (new and empty), no CCPULSE_* settings inherited" >&2
"$python" -m pytest "$@"
