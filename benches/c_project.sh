#!/bin/sh
# Cost of the sandbox and of observation on a real C build: generate a project
# of N translation units (default 120), build it from scratch with
# --sandbox=off, enforce and audit at -j2, RUNS times each (default 5), and
# print the median wall time of each mode and the ratios to off.
#   benches/c_project.sh [N] [RUNS]
# HBUILD=path/to/hbuild picks the binary (default: target/release/hbuild).
set -eu
n=${1:-120}
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
hbuild=${HBUILD:-$(dirname "$here")/target/release/hbuild}
dir=$(mktemp -d /tmp/hbuild-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT

mkdir -p "$dir/src" "$dir/include"
cat > "$dir/include/common.h" <<'H'
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#define SCALE 3
H
i=0
objs=
while [ "$i" -lt "$n" ]; do
    printf 'int f%d(int x);\n' "$i" > "$dir/include/f$i.h"
    cat > "$dir/src/f$i.c" <<C
#include "common.h"
#include "f$i.h"
int f$i(int x) {
    char buf[64];
    snprintf(buf, sizeof buf, "%d", x * SCALE + $i);
    return (int)strlen(buf) + atoi(buf) % 7;
}
C
    objs="$objs build/f$i.o"
    i=$((i + 1))
done
printf '#include "common.h"\nint main(void) { puts("ok"); return 0; }\n' > "$dir/src/main.c"
{
    printf 'OBJS =%s build/main.o\n' "$objs"
    printf 'build/app: $(OBJS)\n\tgcc $(OBJS) -o $@\n'
    printf 'build/%%.o: src/%%.c include/common.h\n\tgcc -O1 -Iinclude -c $< -o $@\n'
    i=0
    while [ "$i" -lt "$n" ]; do
        printf 'build/f%d.o: include/f%d.h\n' "$i" "$i"
        i=$((i + 1))
    done
} > "$dir/Makefile"
mkdir -p "$dir/build"

now() { date +%s.%N; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for mode in off enforce audit; do
    : > "$dir/times.$mode"
done
# Interleaved, so a change of machine load hits every mode alike.
r=0
while [ "$r" -lt "$runs" ]; do
    for mode in off enforce audit; do
        rm -rf "$dir/build"/*
        t0=$(now)
        (cd "$dir" && "$hbuild" -s -j2 --sandbox=$mode >/dev/null 2>&1) || [ "$mode" = audit ] ||
            { echo "build failed in $mode mode" >&2; exit 1; }
        t1=$(now)
        echo "$t1 - $t0" | bc >> "$dir/times.$mode"
    done
    r=$((r + 1))
done
off=$(median < "$dir/times.off")
enf=$(median < "$dir/times.enforce")
aud=$(median < "$dir/times.audit")
printf '%d translation units, -j2, median of %d runs (wall seconds)\n' "$((n + 1))" "$runs"
printf 'off      %6.2f\n' "$off"
printf 'enforce  %6.2f  ratio %.2f\n' "$enf" "$(echo "$enf / $off" | bc -l)"
printf 'audit    %6.2f  ratio %.2f\n' "$aud" "$(echo "$aud / $off" | bc -l)"
