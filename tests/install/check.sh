#!/usr/bin/env bash
# Install a build into a scratch prefix, then build and run a consumer
# through pkg-config and through find_package(iommudirty).
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(ls -d "$tmp"/prefix/lib* | head -1)
test -f "$tmp/prefix/include/iommudirty.h"
ls "$libdir"/libiommudirty.so.0 "$libdir"/libiommudirty.a >/dev/null

# pkg-config
PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists iommudirty
cc -Wall -Werror "$here/consumer/main.c" -o "$tmp/pc-consumer" \
	$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs iommudirty)
LD_LIBRARY_PATH="$libdir" "$tmp/pc-consumer"
# The shared object names its major version.
objdump -p "$libdir/libiommudirty.so" | grep -q 'SONAME *libiommudirty.so.0'

# CMake package
cmake -S "$here/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$tmp/cm/consumer"
echo "install check: pkg-config and find_package consumers built and ran"
