#!/usr/bin/env bash
# Build time of a fresh `nango init` project (issue 16, target 5), next to its baseline in the
# same run: the same project with cargo's default dev profile (what `nango init` wrote before
# its Cargo.toml set one). Each is built from an empty target folder, then rebuilt three times
# after a nango.yaml edit and `nango generate` (a field added to or removed from a model).
#
#   cargo build -p nango-codegen && docs/bench/init-build.sh
#
# Prints wall and CPU (user + system, of cargo and everything it ran) seconds and the load
# average: on a machine shared with other builds the CPU seconds are what compares across runs.
# The projects live in a temporary folder outside this checkout, so that its .cargo/config.toml
# does not apply to them, as it would not to a user's project.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nango=${NANGO:-$root/target/debug/nango}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The build command (word-split), for trying the script out with a quick stand-in.
build=${BUILD:-cargo build --offline}

timed() { # label, project folder, then the command: one line of figures
    local label=$1 dir=$2
    shift 2
    if ! (cd "$dir" && /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" >/dev/null 2>"$work/err"); then
        cat "$work/err" >&2
        exit 1
    fi
    read -r wall user sys <"$work/time"
    printf '%-48s wall %7.1f s  cpu %7.1f s  load %s\n' "$label" "$wall" "$(echo "$user + $sys" | bc)" \
        "$(cut -d' ' -f1 /proc/loadavg)"
}

for variant in generated default-profile; do
    (cd "$work" && "$nango" init "$variant" --path-deps "$root" >/dev/null)
    if [ "$variant" = default-profile ]; then
        sed -i '/^\[profile/,$d' "$work/$variant/Cargo.toml"
    fi
    export CARGO_TARGET_DIR="$work/target-$variant"
    timed "$variant: first build" "$work/$variant" $build
    for run in 1 2 3; do
        yaml="$work/$variant/nango.yaml"
        if grep -q '^    milestone?: string$' "$yaml"; then
            sed -i '/^    milestone?: string$/d' "$yaml"
        else
            sed -i 's/^    created_at: date$/    created_at: date\n    milestone?: string/' "$yaml"
        fi
        (cd "$work/$variant" && "$nango" generate >/dev/null)
        timed "$variant: rebuild after nango.yaml edit $run" "$work/$variant" $build
    done
done
