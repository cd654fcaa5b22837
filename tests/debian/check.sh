#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/debian/check.sh: the Debian packages, end to end.
#
#  1. copies the working tree (tracked and untracked files git does not
#     ignore) into a scratch directory under ${TMPDIR:-/tmp};
#  2. builds the source package (dpkg-source -b) and the binary packages
#     (dpkg-buildpackage -us -uc -b) there;
#  3. runs lintian on both and fails on any E: or W: tag;
#  4. checks what the packages hold (man pages, the -dev package's
#     dependencies for the modules its .pc file requires);
#  5. unpacks libiommudirty0 and libiommudirty-dev into a scratch root and
#     builds tests/debian/consumer.c against it through pkg-config
#     (PKG_CONFIG_SYSROOT_DIR) with the shared library, through pkg-config
#     --static with the static archive, and through find_package() with
#     the CMake package (shared and static targets); each consumer runs on
#     the simulated kernel.
#
# Prints one summary line; the exit status is the result. Writes nothing
# outside the scratch directory. DEB_BUILD_OPTIONS is passed on (nocheck
# skips the unit tests in the package build); IOMMUDIRTY_JOBS (default 2)
# sets the build's parallelism; IOMMUDIRTY_DEB_KEEP=1 keeps the scratch
# directory.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
jobs=${IOMMUDIRTY_JOBS:-2}

say() { echo "debian check: $*"; }
die() {
	echo "debian check: FAIL: $*" >&2
	echo "debian check: FAILED ($*)"
	exit 1
}

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_updated=0
apt_update() {
	[ $apt_updated -eq 1 ] && return 0
	$sudo apt-get update -q >/dev/null
	apt_updated=1
}
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
}

need_pkgs build-essential dpkg-dev debhelper fakeroot lintian cmake pkg-config binutils git

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iommudirty-deb.XXXXXX")
cleanup() {
	if [ "${IOMMUDIRTY_DEB_KEEP:-0}" = 1 ]; then
		echo "debian check: scratch directory kept: $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# -- 1. a scratch copy of the working tree
src=$tmp/libiommudirty
mkdir "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$top" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			# Files deleted from the working tree stay in the index.
			if [ -e "$top/$f" ] || [ -L "$top/$f" ]; then printf '%s\0' "$f"; fi
		done | tar -C "$top" --null -T - -cf - | tar -C "$src" -xf -
else
	tar -C "$top" --exclude='./build*' --exclude='./_build*' -cf - . | tar -C "$src" -xf -
fi
[ -f "$src/debian/control" ] || die "no debian/control in the copy of $top"
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# Build dependencies (the nocheck profile when DEB_BUILD_OPTIONS has nocheck).
profiles=""
case " ${DEB_BUILD_OPTIONS:-} " in *" nocheck "*) profiles=nocheck ;; esac
if ! (cd "$src" && DEB_BUILD_PROFILES="$profiles" dpkg-checkbuilddeps >/dev/null 2>&1); then
	say "installing the build dependencies"
	apt_update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get build-dep -y -q --no-install-recommends \
		${profiles:+-P "$profiles"} "$src" >/dev/null
fi

# -- 2. build
(cd "$tmp" && dpkg-source -b libiommudirty >"$tmp/source.log" 2>&1) || {
	tail -20 "$tmp/source.log" >&2
	die "dpkg-source -b failed"
}
opts=${DEB_BUILD_OPTIONS:-}
case " $opts " in *" parallel="*) ;; *) opts="${opts:+$opts }parallel=$jobs" ;; esac
say "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=\"$opts\")"
if ! (cd "$src" && DEB_BUILD_OPTIONS="$opts" DEB_BUILD_PROFILES="$profiles" \
	dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1); then
	tail -40 "$tmp/build.log" >&2
	die "dpkg-buildpackage failed (the log's last lines are above)"
fi
debs=()
for p in libiommudirty0 libiommudirty-dev iommudirty-tools; do
	deb=$tmp/${p}_${version}_${arch}.deb
	[ -f "$deb" ] || die "$p was not built"
	debs+=("$deb")
done
lib_deb=${debs[0]} dev_deb=${debs[1]} tools_deb=${debs[2]}

# -- 3. lintian: no errors, no warnings
changes=$tmp/libiommudirty_${version}_${arch}.changes
dsc=$tmp/libiommudirty_${version}.dsc
lintian --display-level '>=pedantic' --display-experimental "$dsc" "$changes" \
	>"$tmp/lintian.log" 2>"$tmp/lintian.err" || {
	cat "$tmp/lintian.log" "$tmp/lintian.err" >&2
	die "lintian did not run"
}
if [ -s "$tmp/lintian.log" ]; then
	sed 's/^/  lintian: /' "$tmp/lintian.log"
fi
count() { grep -c "^$1: " "$tmp/lintian.log" || true; }
n_e=$(count E) n_w=$(count W) n_i=$(count I) n_p=$(count P) n_x=$(count X)
lintian_sum="lintian ${n_e} E, ${n_w} W, ${n_i} I, ${n_p} P, ${n_x} X"
if [ "$n_e" -ne 0 ] || [ "$n_w" -ne 0 ]; then die "$lintian_sum"; fi

# -- 4. contents
contents() { dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's,^\./,/,'; }
contents "$lib_deb" >"$tmp/lib.list"
contents "$dev_deb" >"$tmp/dev.list"
contents "$tools_deb" >"$tmp/tools.list"
grep -qx "/usr/lib/$triplet/libiommudirty.so.0" "$tmp/lib.list" ||
	die "libiommudirty0 lacks /usr/lib/$triplet/libiommudirty.so.0"
for f in /usr/include/iommudirty.h "/usr/lib/$triplet/libiommudirty.so" \
	"/usr/lib/$triplet/libiommudirty.a" "/usr/lib/$triplet/pkgconfig/iommudirty.pc" \
	"/usr/lib/$triplet/cmake/iommudirty/iommudirtyConfig.cmake"; do
	grep -qx "$f" "$tmp/dev.list" || die "libiommudirty-dev lacks $f"
done
grep -qx /usr/bin/iommudirty-probe "$tmp/tools.list" || die "iommudirty-tools lacks the probe"
# Every page in doc/man is in the package of its section.
pages=0
if [ -d "$src/doc/man" ]; then
	while IFS= read -r -d '' page; do
		name=$(basename "$page")
		sec=${name##*.}
		case $sec in
		3 | 7) list=$tmp/dev.list pkg=libiommudirty-dev ;;
		8) list=$tmp/tools.list pkg=iommudirty-tools ;;
		*) continue ;;
		esac
		grep -qx "/usr/share/man/man$sec/$name.gz" "$list" ||
			die "$pkg lacks the man page $name (doc/man/$name)"
		pages=$((pages + 1))
	done < <(find "$src/doc/man" -type f -name '*.[378]' -print0)
fi
# The -dev package depends on the packages whose pkg-config modules its
# .pc file requires (static consumers link them).
root=$tmp/root
mkdir "$root"
dpkg-deb -x "$lib_deb" "$root"
dpkg-deb -x "$dev_deb" "$root"
pcdir=$root/usr/lib/$triplet/pkgconfig
dev_depends=$(dpkg-deb -f "$dev_deb" Depends)
reqs=$(PKG_CONFIG_PATH="$pcdir" pkg-config --print-requires --print-requires-private iommudirty) ||
	die "pkg-config cannot resolve the modules iommudirty.pc requires"
for m in $(printf '%s\n' "$reqs" | awk 'NF { print $1 }' | sort -u); do
	owner=$(dpkg-query -S "$(pkg-config --variable=pcfiledir "$m")/$m.pc" | sed -n '1s/[:,].*//p')
	printf '%s\n' "$dev_depends" | tr ',' '\n' | awk '{ print $1 }' | grep -qx "$owner" ||
		die "iommudirty.pc requires $m ($owner) but libiommudirty-dev does not depend on $owner (Depends: $dev_depends)"
done

# -- 5. consumers against the unpacked packages
libdir=$root/usr/lib/$triplet
export PKG_CONFIG_SYSROOT_DIR=$root
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --cflags iommudirty) || die "pkg-config --cflags iommudirty failed"
libs=$(pkg-config --libs iommudirty) || die "pkg-config --libs iommudirty failed"
static_libs=$(pkg-config --static --libs iommudirty) || die "pkg-config --static --libs iommudirty failed"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH
say "pkg-config: --cflags '$cflags' --libs '$libs' --static --libs '$static_libs'"

# The header the compiler used must be the package's.
header_used() { # depfile
	sed 's/[\\ ]/\n/g' "$1" | grep '/iommudirty\.h$' | head -1
}
check_header() { # depfile, what
	local h
	h=$(header_used "$1")
	[ "$(readlink -f "$h")" = "$(readlink -f "$root/usr/include/iommudirty.h")" ] ||
		die "$2 consumer compiled against '$h', not the package's header"
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# Shared, through pkg-config.
# shellcheck disable=SC2086 # the flags are words
cc -Wall -Wextra -Werror -MD -MF "$tmp/shared.d" $cflags "$here/consumer.c" \
	-o "$tmp/consumer-shared" $libs || die "the pkg-config (shared) consumer does not build"
check_header "$tmp/shared.d" "pkg-config (shared)"
needed "$tmp/consumer-shared" | grep -qx libiommudirty.so.0 ||
	die "the shared consumer does not need libiommudirty.so.0"
resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/consumer-shared" | awk '$1 == "libiommudirty.so.0" { print $3 }')
[ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libiommudirty.so.0")" ] ||
	die "the shared consumer loads '$resolved', not the package's library"
LD_LIBRARY_PATH=$libdir "$tmp/consumer-shared" || die "the pkg-config (shared) consumer failed"

# Static, through pkg-config --static, with the archive.
static_libs=$(printf '%s\n' "$static_libs" | sed 's/\(^\| \)-liommudirty\( \|$\)/\1-l:libiommudirty.a\2/')
case " $static_libs " in *" -l:libiommudirty.a "*) ;; *) die "no -liommudirty in pkg-config --static --libs" ;; esac
# shellcheck disable=SC2086
cc -Wall -Wextra -Werror -MD -MF "$tmp/static.d" $cflags "$here/consumer.c" \
	-o "$tmp/consumer-static" $static_libs || die "the pkg-config --static consumer does not build"
check_header "$tmp/static.d" "static"
if needed "$tmp/consumer-static" | grep -q '^libiommudirty'; then
	die "the static consumer needs the shared library"
fi
"$tmp/consumer-static" || die "the static consumer failed"

# Shared and static, through the CMake package.
cmake -S "$here/cmake" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$root/usr" \
	-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$tmp/cmake.log" 2>&1 ||
	{ cat "$tmp/cmake.log" >&2; die "find_package(iommudirty) against the packages failed"; }
cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1 ||
	{ cat "$tmp/cmake.log" >&2; die "the CMake consumer does not build"; }
resolved=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/cmake/consumer" | awk '$1 == "libiommudirty.so.0" { print $3 }')
[ "$(readlink -f "$resolved")" = "$(readlink -f "$libdir/libiommudirty.so.0")" ] ||
	die "the CMake consumer loads '$resolved', not the package's library"
LD_LIBRARY_PATH=$libdir "$tmp/cmake/consumer" || die "the CMake consumer failed"
if needed "$tmp/cmake/consumer-static" | grep -q '^libiommudirty'; then
	die "the CMake consumer of iommudirty::iommudirty_static needs the shared library"
fi
"$tmp/cmake/consumer-static" || die "the CMake static consumer failed"

echo "debian check: ok: libiommudirty0, libiommudirty-dev, iommudirty-tools $version built;" \
	"$lintian_sum; $pages man pages packaged; consumer ran via pkg-config and CMake (shared, static)"
