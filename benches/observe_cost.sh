#!/bin/sh
# What one observed file request costs a step: a recipe runs a small C
# program that makes N read-only opens of a missing file, in one step, with
# --sandbox=off, enforce and audit (interleaved, RUNS times each). Prints the
# median step time of each mode and the cost per request beyond off, in µs.
# This is the floor under every enforce/off ratio: each open, exec, create or
# delete of a recipe is a round trip to hbuild's observer.
#   benches/observe_cost.sh [N] [RUNS]
# HBUILD=path/to/hbuild picks the binary (default: target/release/hbuild).
set -eu
n=${1:-20000}
runs=${2:-7}
here=$(cd "$(dirname "$0")" && pwd)
hbuild=${HBUILD:-$(dirname "$here")/target/release/hbuild}
dir=$(mktemp -d /tmp/hbuild-observe-XXXXXX)
trap 'rm -rf "$dir"' EXIT

cat > "$dir/opens.c" <<'C'
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) {
        int fd = openat(AT_FDCWD, "/usr/include/no-such-header.h", O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    return out < 0;
}
C
cc -O2 "$dir/opens.c" -o "$dir/opens"
printf 'out: opens\n\t./opens %d $@\n' "$n" > "$dir/Makefile"

now() { date +%s%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for mode in off enforce audit; do : > "$dir/times.$mode"; done
r=0
while [ "$r" -lt "$runs" ]; do
    for mode in off enforce audit; do
        rm -f "$dir/out"
        t0=$(now)
        (cd "$dir" && "$hbuild" -s --sandbox=$mode >/dev/null 2>&1) ||
            { echo "build failed in $mode mode" >&2; exit 1; }
        t1=$(now)
        echo $(( (t1 - t0) / 1000 )) >> "$dir/times.$mode"
    done
    r=$((r + 1))
done
off=$(median < "$dir/times.off")
printf '%d read-only opens in one step, median of %d runs\n' "$n" "$runs"
for mode in off enforce audit; do
    t=$(median < "$dir/times.$mode")
    if [ "$mode" = off ]; then
        printf '%-8s %8.1f ms\n' "$mode" "$(echo "$t / 1000" | bc -l)"
    else
        printf '%-8s %8.1f ms  %5.1f µs per request beyond off\n' "$mode" \
            "$(echo "$t / 1000" | bc -l)" "$(echo "($t - $off) / $n" | bc -l)"
    fi
done
