#!/usr/bin/env bash
# The project's entry points (see README):
#   ./build.sh demo    build and run the pre-copy demo
#   ./build.sh test    build and run every test: unit tests, examples and man
#                      page checks with gcc, clang and ASan+UBSan, the
#                      threaded tests under TSan, the fuzzers (libFuzzer),
#                      the install/packaging checks (pkg-config, CMake,
#                      static archive, build variants, C/C++ language
#                      modes, the Rust crates, the Debian packages), then
#                      the real-kernel suite in a QEMU guest
#   ./build.sh bench   build (release) and run the benchmarks
# Each installs the Debian packages it needs when they are missing.
# IOMMUDIRTY_SKIP_KERNEL=1 skips the real-kernel suite.
# IOMMUDIRTY_FUZZ_SECONDS=N runs each fuzzer N seconds (default 20).
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD
jobs=$(nproc)

need_pkgs() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build.sh: installing ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

configure_build() { # dir, cmake args...
	local dir=$1; shift
	cmake -S "$top" -B "$dir" -DIOMMUDIRTY_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" >/dev/null
}

passed=0
failed=0
run_ctest() { # label, dir, [ctest args...]
	local label=$1 dir=$2 out
	shift 2
	echo "== $label"
	set +e
	out=$(ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1)
	local rc=$?
	set -e
	echo "$out" | grep -E "tests passed|Failed|\*\*\*|FAILED|ERROR" || true
	local total fails
	total=$(echo "$out" | sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' | tail -1)
	fails=$(echo "$out" | sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' | tail -1)
	total=${total:-0}; fails=${fails:-0}
	passed=$((passed + total - fails))
	failed=$((failed + fails))
	[ $rc -eq 0 ] || [ "$fails" -gt 0 ] || failed=$((failed + 1))
}

run_check() { # label, command...: one pass or one failure
	local label=$1
	shift
	echo "== $label"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
}

cmd=${1:-}
case "$cmd" in
demo)
	need_pkgs gcc make cmake
	configure_build "$top/build/demo" -DCMAKE_BUILD_TYPE=Release \
		-DIOMMUDIRTY_TESTS=OFF -DIOMMUDIRTY_BENCH=OFF
	shift
	exec "$top/build/demo/examples/precopy" "$@"
	;;
test)
	need_pkgs gcc g++ clang make cmake pkg-config libcmocka-dev libclang-rt-14-dev binutils \
		python3 libnl-genl-3-dev mandoc bindgen libclang-dev
	configure_build "$top/build/gcc" -DCMAKE_C_COMPILER=gcc
	run_ctest "unit + examples (gcc, -Werror)" "$top/build/gcc"
	configure_build "$top/build/clang" -DCMAKE_C_COMPILER=clang
	# The man page check reads sources only: once (gcc) is enough.
	run_ctest "unit + examples (clang, -Werror)" "$top/build/clang" -LE doc
	configure_build "$top/build/asan" -DCMAKE_C_COMPILER=gcc -DIOMMUDIRTY_SANITIZE=ON \
		-DCMAKE_BUILD_TYPE=Debug -DIOMMUDIRTY_BENCH=OFF
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		run_ctest "unit + examples (ASan + UBSan)" "$top/build/asan" -LE doc
	# -- without libnl: devlink answers NO_LIBNL, nothing else changes.
	cmake -S "$top" -B "$top/build/nolibnl" -DIOMMUDIRTY_WERROR=ON -DIOMMUDIRTY_LIBNL=OFF \
		-DIOMMUDIRTY_BENCH=OFF -DIOMMUDIRTY_EXAMPLES=OFF >/dev/null
	cmake --build "$top/build/nolibnl" -j"$jobs" --target test_devlink test_abi \
		iommudirty-probe iommudirty-probe-sim >/dev/null
	run_ctest "devlink without libnl" "$top/build/nolibnl" -R '^(unit\.(devlink|abi)|probe\..*)$'
	# -- ThreadSanitizer over the tests where threads race: readers,
	#    device writers, and the atomic unmap.
	#    Only those binaries: clang puts no TSan runtime in a shared
	#    library, which --no-undefined then refuses.
	cmake -S "$top" -B "$top/build/tsan" -DIOMMUDIRTY_WERROR=ON -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="-fsanitize=thread -O1" \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DIOMMUDIRTY_BENCH=OFF \
		-DIOMMUDIRTY_EXAMPLES=OFF >/dev/null
	cmake --build "$top/build/tsan" -j"$jobs" --target test_tracker test_atomic test_sim \
		test_hardening test_pause_points test_stress >/dev/null
	TSAN_OPTIONS=halt_on_error=1 \
		run_ctest "threaded unit tests (ThreadSanitizer)" "$top/build/tsan" \
		-R '^unit\.(tracker|atomic|sim|hardening|pause_points|stress)$'
	# -- fuzzing: each vendor decoder and the public API (fuzz/fuzz_api.c)
	#    under libFuzzer (clang, ASan+UBSan), IOMMUDIRTY_FUZZ_SECONDS each
	#    (default 20), in parallel.
	configure_build "$top/build/fuzz" -DCMAKE_C_COMPILER=clang -DIOMMUDIRTY_FUZZ=ON \
		-DIOMMUDIRTY_FUZZ_SECONDS="${IOMMUDIRTY_FUZZ_SECONDS:-20}" \
		-DIOMMUDIRTY_TESTS=OFF -DIOMMUDIRTY_EXAMPLES=OFF -DIOMMUDIRTY_BENCH=OFF \
		-DIOMMUDIRTY_TOOLS=OFF
	run_ctest "fuzz the decoders (clang libFuzzer, ${IOMMUDIRTY_FUZZ_SECONDS:-20} s each)" \
		"$top/build/fuzz"
	# -- end of fuzzing
	run_check "install and consume (pkg-config, find_package, static, variants)" \
		bash "$top/tests/install/check.sh" "$top/build/gcc"
	run_check "the header in C99/C11/C17 and C++11/14/17/20 (-pedantic -Werror)" \
		bash "$top/tests/lang/check.sh" "$top/build/gcc"
	# The crates need Rust >= 1.64; Debian 12's own rustc is 1.63, its
	# cargo-web / rustc-web (1.96) provide cargo and rustc, rustfmt-web the
	# rustfmt that the bindings check formats with (tried on a PATH with
	# only these: bindings current, every test passes).
	command -v cargo >/dev/null || need_pkgs cargo-web
	command -v rustfmt >/dev/null || need_pkgs rustfmt-web
	run_check "Rust crates (bindings current, cargo test --offline on the sim)" \
		bash "$top/bindings/rust/test.sh" "$top/build/gcc"
	run_check "Debian packages (dpkg-buildpackage, lintian, a consumer of the -dev package)" \
		env DEB_BUILD_OPTIONS=nocheck bash "$top/tests/debian/check.sh"
	run_check "the kernel runner's own verdicts (environment vs test failures)" \
		bash "$top/tests/kernel/run" --self-test
	if [ "${IOMMUDIRTY_SKIP_KERNEL:-0}" != 1 ]; then
		echo "== real Linux kernel in a QEMU guest (tests/kernel/run)"
		set +e
		# tee to a file, not /dev/stderr: reopening that truncates a
		# log file the caller redirected stderr to.
		klog=$(mktemp)
		bash "$top/tests/kernel/run" 2>&1 | tee "$klog"
		krc=${PIPESTATUS[0]}
		kout=$(cat "$klog")
		rm -f "$klog"
		set -e
		kp=$(echo "$kout" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' | tail -1)
		kf=$(echo "$kout" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' | tail -1)
		passed=$((passed + ${kp:-0}))
		failed=$((failed + ${kf:-0}))
		[ $krc -eq 0 ] || [ "${kf:-0}" -gt 0 ] || failed=$((failed + 1))
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
bench)
	need_pkgs gcc make cmake
	configure_build "$top/build/bench" -DCMAKE_BUILD_TYPE=Release -DIOMMUDIRTY_TESTS=OFF
	cmake --build "$top/build/bench" --target bench
	;;
*)
	echo "usage: $0 demo|test|bench" >&2
	exit 2
	;;
esac
