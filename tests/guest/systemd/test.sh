#!/usr/bin/env bash
# The systemd cgroup driver tier (`make test-systemd`): builds rt and the systemd test binaries
# on the host (crates/cgroups/tests/systemd.rs, tests/systemd_cgroup.rs), then runs them in ONE
# boot of the systemd guest (run.sh). When the guest cannot be built (no qemu, kernel or
# debootstrap) it says so loudly and exits 0, or 1 under CI=true.
#
# usage: tests/guest/systemd/test.sh [TEST_BINARY_ARGS...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo"

if ! "$here/prepare.sh"; then
    echo "################################################################################" >&2
    echo "## test-systemd SKIPPED: the systemd guest cannot be built on this machine" >&2
    echo "################################################################################" >&2
    [[ ${CI:-} == true ]] && exit 1
    exit 0
fi

cargo build -p runtime >&2
list=$(cargo test --no-run --message-format=json-render-diagnostics \
    -p cgroups --test systemd -p rt-tests --test systemd_cgroup |
    python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        print(m["executable"] + "\t" + os.path.dirname(m["manifest_path"]))
')
[[ -n $list ]] || { echo "test.sh: no test binaries were built" >&2 && exit 1; }

q() { local s=${1//\'/\'\\\'\'} && printf "'%s'" "$s"; }
script=$(mktemp "$repo/target/guest/systemd-test.XXXXXX")
trap 'rm -f "$script"' EXIT
{
    echo 'failed=""'
    while IFS=$'\t' read -r exe mdir; do
        printf 'echo; echo %s\n' "$(q "     Running ${exe#"$repo"/} in the systemd guest")"
        printf '(cd %s && CARGO_MANIFEST_DIR=%s exec %s' "$(q "$mdir")" "$(q "$mdir")" "$(q "$exe")"
        for a in "$@"; do printf ' %s' "$(q "$a")"; done
        printf ') || failed="$failed "%s\n' "$(q "$(basename "$exe")")"
    done <<<"$list"
    echo 'if [ -n "$failed" ]; then echo; echo "test.sh: FAILED in the systemd guest:$failed"; exit 101; fi'
} >"$script"
"$here/run.sh" --timeout "${RT_GUEST_TIMEOUT:-900}" -- sh "$script"
