#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Test the Rust crates against a CMake build of libiommudirty:
#
#   bindings/rust/test.sh <cmake-build-dir>
#
# 1. installs that build into <dir>/rust-prefix (cmake --install --prefix),
#    whichever form its iommudirty.pc takes (${pcfiledir}-relative or a
#    conventional absolute prefix: the latter is pointed at the scratch
#    prefix);
# 2. checks that iommudirty-sys/src/bindings.rs is what regen.sh makes from
#    include/iommudirty.h now (needs bindgen + libclang-dev; set
#    IOMMUDIRTY_RUST_SKIP_BINDGEN=1 to skip that check when they are absent);
# 3. runs `cargo test --offline` for iommudirty-sys and iommudirty on the
#    simulated kernel, with CARGO_TARGET_DIR=<dir>/rust-target.
# Exit status 0 only if all of it passed; the last line is a summary.
set -u

if [ $# -ne 1 ] || [ ! -f "$1/CMakeCache.txt" ]; then
	echo "usage: $0 <cmake-build-dir>" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
prefix=$build/rust-prefix
log=$build/rust-test.log
export CARGO_TARGET_DIR="$build/rust-target"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
export CARGO_TERM_COLOR=never

summary() {
	echo "rust: $1"
}

# 1. Install.
rm -rf "$prefix"
if ! cmake --install "$build" --prefix "$prefix" >"$build/rust-install.log" 2>&1; then
	cat "$build/rust-install.log" >&2
	summary "FAIL (cmake --install $build --prefix $prefix failed)"
	exit 1
fi
pc=$(find "$prefix" -name iommudirty.pc -path '*/pkgconfig/*' | head -n 1)
if [ -z "$pc" ]; then
	summary "FAIL (no iommudirty.pc installed under $prefix)"
	exit 1
fi
pcdir=$(dirname "$pc")
# A conventional .pc names the configured prefix (say /usr/local), not the
# scratch one: rewrite that prefix where a value starts with it.
old=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=prefix iommudirty)
if [ -n "$old" ] && [ ! "$old" -ef "$prefix" ]; then
	sed -i "s|=$old\$|=$prefix|; s|=$old/|=$prefix/|" "$pc"
fi
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir iommudirty)
if [ ! -e "$libdir/libiommudirty.so" ] && [ ! -e "$libdir/libiommudirty.a" ]; then
	summary "FAIL (pkg-config's libdir $libdir holds no libiommudirty)"
	exit 1
fi
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 2. Bindings current?
bindings=current
"$here/check-bindings.sh"
case $? in
0) ;;
2)
	if [ "${IOMMUDIRTY_RUST_SKIP_BINDGEN:-0}" = 1 ]; then
		bindings="not checked (no bindgen)"
	else
		summary "FAIL (bindgen/rustfmt missing: apt-get install bindgen libclang-dev, or IOMMUDIRTY_RUST_SKIP_BINDGEN=1)"
		exit 1
	fi
	;;
*)
	summary "FAIL (committed bindings are stale: run bindings/rust/regen.sh)"
	exit 1
	;;
esac

# 3. cargo test. A library built without the simulated kernel cannot run
# the sim tests: then only the sim-free ones run, and the safe crate is
# built without its `sim` feature.
has_sim=1
if [ -e "$libdir/libiommudirty.so" ] && command -v nm >/dev/null 2>&1 &&
	! nm -D --defined-only "$libdir/libiommudirty.so" | grep -q ' iommudirty_sim_new'; then
	has_sim=0
fi
cd "$here" || exit 1
: >"$log"
status=0
if [ $has_sim = 1 ]; then
	cargo test --offline --locked --no-fail-fast -p iommudirty-sys 2>&1 | tee -a "$log" || status=1
	cargo test --offline --locked --no-fail-fast -p iommudirty 2>&1 | tee -a "$log" || status=1
else
	echo "rust: the library has no simulated kernel: sim tests skipped" | tee -a "$log"
	cargo test --offline --locked --no-fail-fast -p iommudirty-sys -- --skip sim 2>&1 | tee -a "$log" || status=1
	cargo test --offline --locked --no-fail-fast -p iommudirty --no-default-features 2>&1 | tee -a "$log" || status=1
fi
# `cargo ... | tee` loses cargo's status in POSIX sh: take it from the log too.
if grep -qE '^test result: FAILED|^error(\[|:)' "$log"; then
	status=1
fi
counts=$(awk '/^test result:/ {
		for (i = 1; i <= NF; i++) {
			if ($(i+1) ~ /^passed/) p += $i
			if ($(i+1) ~ /^failed/) f += $i
			if ($(i+1) ~ /^ignored/) g += $i
		}
		n++
	} END { printf "%d passed, %d failed, %d ignored in %d test binaries", p, f, g, n }' "$log")
if [ $status = 0 ] && ! grep -q '^test result:' "$log"; then
	status=1
fi
if [ $status = 0 ]; then
	summary "OK ($counts; bindings $bindings; sim $([ $has_sim = 1 ] && echo yes || echo no))"
else
	summary "FAIL ($counts; bindings $bindings; log: $log)"
fi
exit $status
