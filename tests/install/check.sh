#!/usr/bin/env bash
# Install a build into a scratch prefix, then build and run a consumer
# through pkg-config and through find_package(iommudirty); check the static
# archive's namespace, the pkg-config output of a /usr install, and the
# build variants a distribution chooses (shared only without the sim,
# static only).
# usage: tests/install/check.sh <cmake build dir, default options>
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
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

# The static archive defines no global outside iommudirty_, so a static
# consumer with its own grow() or ctx_get() links.
bad=$(nm -g --defined-only "$libdir/libiommudirty.a" | awk 'NF == 3 && $3 !~ /^iommudirty_/ { print $3 }')
if [ -n "$bad" ]; then
	echo "install check: libiommudirty.a defines globals outside iommudirty_:" $bad
	exit 1
fi
cat >"$tmp/clash.c" <<'C'
#include <iommudirty.h>
#include <stdio.h>
/* Names a library's internals might use; ours must not collide. */
int grow(void) { return 1; }
int ctx_get(void) { return 2; }
int opts_valid(void) { return 3; }
int main(void)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	int ok = sim && grow() + ctx_get() + opts_valid() == 6;
	iommudirty_sim_free(sim);
	printf("static consumer: %s\n", ok ? "ok" : "FAILED");
	return !ok;
}
C
# The archive's own dependencies (libnl when built with it) from the .pc.
deps=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --static --libs iommudirty |
	sed 's/-liommudirty//; s/-L[^ ]*//g')
cc -Wall -Werror -I"$tmp/prefix/include" "$tmp/clash.c" "$libdir/libiommudirty.a" $deps \
	-o "$tmp/clash"
"$tmp/clash"

# A /usr install: conventional pkg-config output (no -I for the system
# include dir, no path relative to the .pc file, -liommudirty alone).
DESTDIR="$tmp/root" cmake --install "$build" --prefix /usr >/dev/null
pcdir=$(dirname "$(find "$tmp/root/usr" -name iommudirty.pc | head -1)")
grep -q '^prefix=/usr$' "$pcdir/iommudirty.pc"
cflags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags iommudirty)
libs=$(PKG_CONFIG_PATH="$pcdir" pkg-config --libs iommudirty)
# (Requires.private modules may add their own -I, e.g. libnl's.)
if [[ " $cflags " == *" -I/usr/include "* || "$cflags" == *pkgconfig* ]] ||
	[ "$(echo $libs)" != "-liommudirty" ]; then
	echo "install check: /usr pkg-config gives cflags '$cflags' libs '$libs'"
	exit 1
fi

# Variants: BUILD_SHARED_LIBS=ON without the sim; BUILD_SHARED_LIBS=OFF.
variant() { # dir, cmake args...
	local dir=$1; shift
	cmake -S "$src" -B "$dir" -DIOMMUDIRTY_WERROR=ON -DIOMMUDIRTY_TESTS=OFF \
		-DIOMMUDIRTY_EXAMPLES=OFF -DIOMMUDIRTY_BENCH=OFF "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)" >/dev/null
	cmake --install "$dir" --prefix "$dir/prefix" >/dev/null
}
variant "$tmp/nosim" -DBUILD_SHARED_LIBS=ON -DIOMMUDIRTY_SIM=OFF
nl=$(ls -d "$tmp"/nosim/prefix/lib* | head -1)
test -e "$nl/libiommudirty.so.0" && ! test -e "$nl/libiommudirty.a"
if nm -D --defined-only "$nl/libiommudirty.so" | grep -q 'sim_\|IOMMUDIRTY_SIM'; then
	echo "install check: IOMMUDIRTY_SIM=OFF still exports the sim"
	exit 1
fi
cat >"$tmp/nosim.c" <<'C'
#include <errno.h>
#include <iommudirty.h>
#include <stdio.h>
int main(void)
{
	/* Any non-NULL sim pointer: the library must refuse it unread. */
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .sim = (struct iommudirty_sim *)&o);
	struct iommudirty_ctx *ctx = iommudirty_ctx_new(&o);
	int ok = !ctx && errno == EOPNOTSUPP;
	printf("no-sim library: %s\n", ok ? "refuses a sim context" : "FAILED");
	return !ok;
}
C
cc -Wall -Werror -I"$src/include" "$tmp/nosim.c" -L"$nl" -liommudirty -o "$tmp/nosim-c"
LD_LIBRARY_PATH="$nl" "$tmp/nosim-c"
variant "$tmp/static" -DBUILD_SHARED_LIBS=OFF
sl=$(ls -d "$tmp"/static/prefix/lib* | head -1)
test -e "$sl/libiommudirty.a" && ! test -e "$sl/libiommudirty.so"
cmake -S "$here/consumer" -B "$tmp/cm-static" -DCMAKE_PREFIX_PATH="$tmp/static/prefix" >/dev/null
cmake --build "$tmp/cm-static" >/dev/null
"$tmp/cm-static/consumer"
cc -Wall -Werror "$here/consumer/main.c" -o "$tmp/pc-static" \
	$(PKG_CONFIG_PATH="$sl/pkgconfig" pkg-config --static --cflags --libs iommudirty)
"$tmp/pc-static"
echo "install check: pkg-config, find_package, static namespace, /usr .pc, no-sim and static-only builds"
