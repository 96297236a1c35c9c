#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted $failed: expanded by the guest script, not here
# Build the workspace's test binaries on the host, then run them all in ONE cgroup v2 guest boot.
#
# usage: tests/guest/cargo-test.sh [CARGO_TEST_ARGS...] [-- TEST_BINARY_ARGS...]
#   e.g. tests/guest/cargo-test.sh --workspace -- --test-threads=2
#        RT_GUEST_TIMEOUT=1800 tests/guest/cargo-test.sh -p cgroups -- v2
#
# `cargo test --no-run --message-format=json CARGO_TEST_ARGS` builds on the host (fast) and lists
# the test executables; each then runs in the guest like `cargo test` would run it: from its
# package's directory, with CARGO_MANIFEST_DIR and CARGO_PKG_NAME set, TEST_BINARY_ARGS passed.
# All binaries run even when one fails; the exit status is non-zero when any failed. run.sh's
# environment rules apply (RUST_*, RT_* and CI pass through; RT_GUEST=1 is set in the guest).
# Options for run.sh can be given in RT_GUEST_RUN_OPTS (e.g. "--mem 3G --timeout 1800").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}

cargo_args=()
while (($#)) && [[ $1 != -- ]]; do
    cargo_args+=("$1")
    shift
done
(($#)) && shift # --
test_args=("$@")

mkdir -p "$cache"
list=$(mktemp "$cache/cargo-test.XXXXXX")
script=$list.sh
trap 'rm -f "$list" "$script"' EXIT

echo "cargo-test.sh: building test binaries on the host" >&2
(cd "$repo" && cargo test --no-run --message-format=json-render-diagnostics "${cargo_args[@]}") |
    python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        pkg = m["package_id"]
        name = m.get("target", {}).get("name", "")
        mdir = os.path.dirname(m["manifest_path"])
        # package_id: "path+file:///dir#name@1.0", "path+file:///dir#1.0" or "name 1.0 (path+...)"
        if "#" in pkg:
            frag = pkg.rsplit("#", 1)[1]
            pname = frag.split("@")[0] if "@" in frag else pkg.split("#")[0].rstrip("/").rsplit("/", 1)[-1]
        else:
            pname = pkg.split(" ")[0]
        print("\t".join([m["executable"], mdir, pname, name]))
' >"$list"
[[ -s $list ]] || {
    echo "cargo-test.sh: no test binaries were built" >&2
    exit 1
}

q() { local s=${1//\'/\'\\\'\'} && printf "'%s'" "$s"; }
{
    echo 'failed=""'
    while IFS=$'\t' read -r exe mdir pname tname; do
        printf 'echo; echo %s\n' "$(q "     Running ${exe#"$repo"/} ($tname) in the cgroup v2 guest")"
        printf '(cd %s && CARGO_MANIFEST_DIR=%s CARGO_PKG_NAME=%s exec %s' "$(q "$mdir")" "$(q "$mdir")" "$(q "$pname")" "$(q "$exe")"
        for a in "${test_args[@]}"; do printf ' %s' "$(q "$a")"; done
        printf ') || failed="$failed "%s\n' "$(q "$tname")"
    done <"$list"
    echo 'if [ -n "$failed" ]; then echo; echo "cargo-test.sh: FAILED in the cgroup v2 guest:$failed"; exit 101; fi'
} >"$script"

read -r -a run_opts <<<"${RT_GUEST_RUN_OPTS:-}"
echo "cargo-test.sh: running $(wc -l <"$list") test binaries in the cgroup v2 guest" >&2
rc=0
"$here/run.sh" "${run_opts[@]}" -C "$repo" -- sh "$script" || rc=$?
exit "$rc"
