# Sourced (not run) by tools/servers-demo and tools/bench-servers: where the
# benchmark peers and their load generator echo_load.c are. They live in the
# workspace's shared/bench, outside this repository (nothing of it is
# copied in here).
#
# bench_dir TOOL FILE [DIR]: prints the folder holding FILE (echo_load.c or
# run-peers.sh), status 0. DIR (the tool's --bench), else $BENCH_DIR, when
# set, must hold FILE: if it does not, a message and status 2. Without
# either: shared/bench beside this checkout, beside its main worktree, or
# beside the repository it was cloned from (and that one's main worktree);
# status 1 when none holds FILE (bench_hint says what to set).
bench_dir() {
    local tool=$1 file=$2 given=${3:-${BENCH_DIR:-}} here r d
    if [ -n "$given" ]; then
        [ -f "$given/$file" ] && { (cd "$given" && pwd); return 0; }
        echo "$tool: no $file in $given (--bench DIR / BENCH_DIR must name the folder that" \
            "holds echo_load.c and run-peers.sh, the workspace's shared/bench)" >&2
        return 2
    fi
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    for r in "$here" "$(git -C "$here" remote get-url origin 2>/dev/null)"; do
        [ -n "$r" ] && [ -d "$r" ] || continue
        for d in "$r/../shared/bench" \
            "$(git -C "$r" rev-parse --path-format=absolute --git-common-dir 2>/dev/null)/../../shared/bench"; do
            [ -f "$d/$file" ] && { (cd "$d" && pwd); return 0; }
        done
    done
    return 1
}

# bench_hint TOOL FILE: what to set when bench_dir found nothing.
bench_hint() {
    echo "$1: no $2 found beside this checkout: set BENCH_DIR=DIR or pass --bench DIR," \
        "DIR being the workspace's shared/bench (echo_load.c, run-peers.sh, peers/)" >&2
}
