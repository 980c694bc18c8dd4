#!/usr/bin/env bash
# Peak RSS and CPU of the example binary as a user runs it (issue 16, target 3), for several
# builds of it side by side: `github-tickets run github-tickets --connection bench` against
# `nango-mock-provider --issues N --token bench-token` in a process of its own, each run on a
# fresh SQLite database with the connection added by the binary's own `connections add`, timed
# by `/usr/bin/time` (wall, user, system, peak RSS of that one process). The builds take turns
# (run 1 of every build, then run 2 of every build, ...), so a change of load hits all alike.
#
#   MOCK=/work/target-rss-base/release/nango-mock-provider \
#       docs/bench/run-rss.sh base=/work/target-rss-base/release/github-tickets \
#                             fat-s=/work/target-rss-fat-s/release/github-tickets
#
# The binaries are the example built with one release profile each, into target folders of
# their own outside this checkout, e.g.
#   CARGO_TARGET_DIR=/work/target-rss-fat-s cargo build --release -p github-tickets \
#       --bin github-tickets --config 'profile.release.lto="fat"' \
#       --config 'profile.release.codegen-units=1' --config 'profile.release.opt-level="s"'
#
# Environment: ISSUES (default 100000), RUNS per build (default 5), WARMUP runs per build not
# counted (default 1), PARAMS_<label> (`-` as `_`) appended to that build's database URL, e.g.
# `PARAMS_small='?cache_kib=128'` with `small=path` to run a binary with other store settings. Before its warm-up each binary is dropped from the page cache, so every
# build starts from the same state: a file read in by the kernel's readahead on first use, as a
# user's binary is (a binary just written by the linker or by `cp` sits in the page cache in
# other folio sizes, and the peak RSS of its code depends on them: see BENCHMARKS.md).
#
# Prints one line per run and, per build, the median and range of peak RSS and the median CPU
# seconds (user + system) scaled to 100k issues, with the load average at the start and end.
set -euo pipefail
issues=${ISSUES:-100000}
runs=${RUNS:-5}
warmup=${WARMUP:-1}
mock=${MOCK:?set MOCK to a nango-mock-provider binary (a release build)}
[ $# -gt 0 ] || { echo "usage: $0 label=path/to/github-tickets ..." >&2; exit 2; }
labels=()
declare -A program
for arg in "$@"; do
    label=${arg%%=*}
    path=${arg#*=}
    [ -x "$path" ] || { echo "$path (build $label) is not an executable" >&2; exit 2; }
    labels+=("$label")
    program[$label]=$path
done

work=$(mktemp -d)
mock_pid=
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null && wait "$mock_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
"$mock" --issues "$issues" --token bench-token --port 0 >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/mock.out" && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/mock.out")
[ -n "$url" ] || { echo "the mock provider did not start:" >&2; cat "$work/mock.err" >&2; exit 1; }

one_run() { # label: prints "wall user system peak-kB" of one run on a fresh database
    local bin=${program[$1]} dir
    dir=$(mktemp -d -p "$work")
    local params_var="PARAMS_${1//-/_}"
    export NANGO_DATABASE_URL="sqlite://$dir/nango.db${!params_var:-}" RUST_LOG=warn
    unset NANGO_ENCRYPTION_KEY NANGO_SECRET_KEY NANGO_LEASE_TTL
    if ! "$bin" connections add bench --integration github --token bench-token --base-url "$url" \
        --metadata '{"owner":"o","repo":"r"}' --insecure-store-secrets-in-clear \
        </dev/null >/dev/null 2>"$dir/add.err"; then
        echo "$1: connections add failed:" >&2
        cat "$dir/add.err" >&2
        exit 1
    fi
    if ! /usr/bin/time -o "$dir/time" -f "%e %U %S %M" "$bin" run github-tickets --connection bench \
        </dev/null >/dev/null 2>"$dir/run.err"; then
        echo "$1: run failed:" >&2
        cat "$dir/run.err" >&2
        exit 1
    fi
    local stored
    stored=$(sqlite3 "$dir/nango.db" "select count(*) from records where model = 'Ticket'")
    [ "$stored" = "$issues" ] || { echo "$1: $stored tickets stored, expected $issues" >&2; exit 1; }
    cat "$dir/time"
    rm -rf "$dir"
}

for label in "${labels[@]}"; do
    # Drops the binary's pages from the page cache (no root needed: fadvise DONTNEED).
    dd if="${program[$label]}" iflag=nocache count=0 status=none
    for _ in $(seq "$warmup"); do one_run "$label" >/dev/null; done
done
echo "start $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg), $issues issues, $runs runs each"
for run in $(seq "$runs"); do
    for label in "${labels[@]}"; do
        read -r wall user sys kb < <(one_run "$label")
        echo "$label $wall $user $sys $kb" >>"$work/results"
        printf '%-24s run %d: wall %6.2f s  cpu %6.2f s  peak %6.1f MB\n' "$label" "$run" "$wall" \
            "$(echo "$user + $sys" | bc)" "$(echo "scale=1; $kb / 1000" | bc)"
    done
done
echo "end $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
for label in "${labels[@]}"; do
    awk -v l="$label" -v n="$issues" '$1 == l { print $5 / 1000, ($3 + $4) * 100000 / n, $2 }' "$work/results" |
        sort -n | awk -v l="$label" '
            { rss[NR] = $1; cpu[NR] = $2; wall[NR] = $3 }
            END {
                m = int((NR + 1) / 2)
                # CPU and wall medians need their own order.
                for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR; j++) {
                    if (cpu[j] < cpu[i]) { t = cpu[i]; cpu[i] = cpu[j]; cpu[j] = t }
                    if (wall[j] < wall[i]) { t = wall[i]; wall[i] = wall[j]; wall[j] = t }
                }
                printf "%-24s peak RSS median %.1f MB (%.1f-%.1f)  CPU-s per 100k median %.3f  wall median %.2f s\n",
                    l, rss[m], rss[1], rss[NR], cpu[m], wall[m]
            }'
done
