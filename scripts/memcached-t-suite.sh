#!/usr/bin/env bash
# Runs memcached's own test suite (its t/*.t files, tag 1.6.18 by default) against
# tailcache, or against the real memcached to show that the suite passes there.
#
# A developer check, not run by CI (CI has no memcached mirror). Nothing of memcached is
# built: the tag is extracted under target/memcached-t/<tag>-<mode>-<pid>/ (kept until
# the next run), and two small shims are put where the tests look for programs in
# memcached's build directory:
#   memcached-debug  starts target/release/tailcache (built when missing) with the
#                    flags the test gives and --debug-commands (memcached-debug's
#                    debugtime); with --memcached it execs `memcached`
#   timedrun         runs its command directly (this script times each file instead)
# The tests use memcached's -h output to decide what is supported (unix sockets, UDP,
# TLS, SASL, extstore, proxy), so tailcache's -h decides the same way.
#
# Usage: scripts/memcached-t-suite.sh [--memcached] [--no-translate] [TEST...]
#   TEST           a file under t/ (getset.t, t/getset.t or getset); default: all t/*.t
#   --memcached    run the files against the real memcached (`command -v memcached`)
#   --no-translate start tailcache with exactly the flags the test gives
#
# Flag translations (only when tailcache rejects the flags as given; each one used is
# logged to target/memcached-t/<tag>-<mode>-<pid>/shim.log and counted in the summary):
#   -o relaxed_privileges  dropped from the -o list (also for a memcached that is not a
#                          debug build: the option exists only in memcached-debug)
#   admin endpoint         `--admin-addr off` added while the default admin address is
#                          a fixed port (a second instance could not start)
# Remove each translation here once the server accepts the flag as memcached does.
#
# Environment:
#   MEMCACHED_REPO   memcached's git repository (default /work/.mirror/memcached+memcached/repo)
#   MEMCACHED_TAG    tag to test (default 1.6.18)
#   MEMCACHED_BIN    real memcached for --memcached (default: `command -v memcached`)
#   TAILCACHE_BIN    server binary (default target/release/tailcache)
#   TSUITE_TIMEOUT   seconds per test file (default 180)
#   TSUITE_RESULTS   also write the per-file results to this file
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
repo="${MEMCACHED_REPO:-/work/.mirror/memcached+memcached/repo}"
tag="${MEMCACHED_TAG:-1.6.18}"
per_file_timeout="${TSUITE_TIMEOUT:-180}"
mode=tailcache
translate=1
tests=()

while [ $# -gt 0 ]; do
    case "$1" in
        --memcached) mode=memcached ;;
        --no-translate) translate=0 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) tests+=("$1") ;;
    esac
    shift
done

die() { printf 'memcached-t-suite: %s\n' "$*" >&2; exit 2; }

command -v prove >/dev/null || die "prove (perl's Test::Harness) is not installed"
git -C "$repo" rev-parse --verify -q "$tag^{commit}" >/dev/null \
    || die "no tag $tag in $repo (set MEMCACHED_REPO to memcached's git repository)"

# One directory per run (runs may overlap); those of finished runs are removed.
base="$root/target/memcached-t"
mkdir -p "$base" || die "cannot create $base"
for old in "$base/$tag-$mode"-*; do
    [ -d "$old" ] || continue
    kill -0 "${old##*-}" 2>/dev/null || rm -rf "$old"
done
work="$base/$tag-$mode-$$"
mkdir -p "$work" || die "cannot create $work"
git -C "$repo" archive "$tag" | tar -x -C "$work" || die "git archive $tag failed"

if [ "$mode" = memcached ]; then
    server="${MEMCACHED_BIN:-$(command -v memcached || true)}"
    [ -x "$server" ] || die "memcached not found (set MEMCACHED_BIN)"
else
    server="${TAILCACHE_BIN:-$root/target/release/tailcache}"
    if [ ! -x "$server" ]; then
        echo "building $server"
        (cd "$root" && cargo build --release -p tailcache) || die "release build failed"
    fi
    [ -x "$server" ] || die "$server is missing"
fi

cat >"$work/timedrun" <<'EOF'
#!/usr/bin/env bash
# shim for memcached's timedrun: the suite script times each test file itself
shift
exec "$@"
EOF

cat >"$work/memcached-debug" <<EOF
#!/usr/bin/env bash
# shim written by scripts/memcached-t-suite.sh: starts the server under test
mode='$mode'
server='$server'
translate='$translate'
log='$work/shim.log'
EOF
cat >>"$work/memcached-debug" <<'EOF'
[ "$translate" = 0 ] && exec "$server" "$@"
args=("$@")
used=()
# drop_flags FLAG...: removes `FLAG VALUE` pairs and -o relaxed_privileges from args.
drop_flags() {
    local out=() i=0 a v nv f
    while [ $i -lt ${#args[@]} ]; do
        a="${args[$i]}"
        if [ "$a" = -o ]; then
            v="${args[$((i + 1))]:-}"
            nv="$(printf '%s' "$v" | tr ',' '\n' | grep -v '^relaxed_privileges$' | paste -sd, -)"
            [ "$nv" != "$v" ] && used+=("drop -o relaxed_privileges")
            [ -n "$nv" ] && out+=(-o "$nv")
            i=$((i + 2)); continue
        fi
        for f in "$@"; do
            if [ "$a" = "$f" ]; then
                used+=("drop $a ${args[$((i + 1))]:-}")
                i=$((i + 2)); continue 2
            fi
        done
        out+=("$a")
        i=$((i + 1))
    done
    args=("${out[@]}")
}
if [ "$mode" = memcached ]; then
    # -o relaxed_privileges exists only in memcached's debug build (memcached-debug).
    "$server" -h | grep -q relaxed_privileges || drop_flags
else
    # memcached-debug is memcached with its debug commands (debugtime, for expirations.t).
    args+=(--debug-commands)
    # Translate only when tailcache rejects the flags as memcached's tests give them.
    "$server" "${args[@]}" --print-config >/dev/null 2>&1 || drop_flags
    # A fixed default admin port would stop a second instance (cas.t starts two).
    if "$server" "${args[@]}" --print-config 2>/dev/null \
            | grep -q '^admin_addr = "[^"]*:[1-9][0-9]*"'; then
        case " ${args[*]} " in
            *" --admin-addr "*) ;;
            *) args+=(--admin-addr off); used+=("add --admin-addr off") ;;
        esac
    fi
fi
for u in "${used[@]}"; do
    printf '%s\t%s\n' "${TSUITE_TEST:-?}" "$u" >>"$log"
done
exec "$server" "${args[@]}"
EOF
chmod +x "$work/timedrun" "$work/memcached-debug"
: >"$work/shim.log"
mkdir -p "$work/logs"

if [ ${#tests[@]} -eq 0 ]; then
    for f in "$work"/t/*.t; do tests+=("$(basename "$f")"); done
fi

results=()
pass=0
fail=0
skip=0
cd "$work" || die "cannot enter $work"
echo "memcached $tag t/ suite against $mode ($server), ${#tests[@]} files, ${per_file_timeout}s each"
for t in "${tests[@]}"; do
    t="$(basename "$t" .t).t"
    if [ ! -f "t/$t" ]; then
        line="$(printf '%-28s MISSING' "$t")"
        fail=$((fail + 1))
    else
        start=$(date +%s)
        TSUITE_TEST="$t" timeout -k 5 "$per_file_timeout" prove -v "t/$t" >"logs/$t.log" 2>&1
        rc=$?
        secs=$(( $(date +%s) - start ))
        detail="$(grep -Eo 'Failed [0-9]+/[0-9]+ subtests|Parse errors:.*|skipped: .*' "logs/$t.log" | head -1)"
        if grep -q '^Result: NOTESTS' "logs/$t.log" && [ -n "$detail" ]; then
            status=skip
            skip=$((skip + 1))
        elif [ $rc -eq 0 ] && grep -q '^Result: PASS' "logs/$t.log"; then
            status=pass
            pass=$((pass + 1))
            grep -q '^t/.* skipped' "logs/$t.log" && status="pass (skipped)"
        else
            status=FAIL
            fail=$((fail + 1))
            [ $rc -ge 124 ] && detail="timed out after ${per_file_timeout}s; $detail"
        fi
        line="$(printf '%-28s %-15s %4ss  %s' "$t" "$status" "$secs" "$detail")"
    fi
    echo "$line"
    results+=("$line")
done

translations="$(cut -f2 shim.log | sort | uniq -c | sed 's/^ */  /')"
summary="total: $pass passed, $fail failed, $skip skipped (the test skips itself) of ${#tests[@]} ($mode, memcached $tag t/)"
echo "$summary"
[ -n "$translations" ] && printf 'flag translations used by the shim (starts):\n%s\n' "$translations"
echo "logs: $work/logs/"
if [ -n "${TSUITE_RESULTS:-}" ]; then
    {
        printf '%s\n' "${results[@]}"
        echo "$summary"
        [ -n "$translations" ] && printf 'flag translations used by the shim (starts):\n%s\n' "$translations"
    } >"$TSUITE_RESULTS"
fi
[ $fail -eq 0 ]
