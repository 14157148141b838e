#!/bin/sh
# build-installed.sh CC OUTDIR "CFLAGS" "LIBS": builds the minimal kernel
# from its own sources and what `meson install` put in place (CFLAGS and
# LIBS from `pkg-config --cflags --libs rvmm`), with no path into rvmm's
# source tree, then boots it on QEMU at 2 harts (ci/check-install runs it).
# This is the whole build recipe of an embedding kernel.
set -eu
cc=$1
out=$2
cflags=$3
libs=$4
src=$(cd "$(dirname "$0")" && pwd)
arch="-march=rv64gc -mabi=lp64d -mcmodel=medany -ffreestanding \
    -fno-omit-frame-pointer -fno-stack-protector -fno-pic -O2 -Wall -Werror"
mkdir -p "$out"
# shellcheck disable=SC2086
$cc $arch -fno-builtin -fno-tree-loop-distribute-patterns -nostdlib -static \
    -Wl,--no-relax -T "$src/user/user.ld" -o "$out/mini-user.elf" \
    "$src/user/ustart.S" "$src/user/user.c"
python3 "$src/embed.py" "$out/mini-user.elf" "$out/user_blob.S"
# shellcheck disable=SC2086
$cc $arch -specs=picolibc.specs $cflags -nostartfiles -static \
    -Wl,--no-relax -T "$src/kernel.ld" -o "$out/mini.elf" \
    "$src/start.S" "$src/sbi.c" "$src/hooks.c" "$src/main.c" \
    "$out/user_blob.S" $libs
echo "built $out/mini.elf"
python3 "$src/../../ci/qemu-run" --smp 2 --timeout 200 -- "$out/mini.elf"
