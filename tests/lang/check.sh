#!/usr/bin/env bash
# The public header from every language mode a consumer may use: C99, C11,
# C17 (gcc and clang) and C++11, 14, 17, 20 (g++ and clang++), each under
# -Wall -Wextra -pedantic -Werror, linked against the build's library and
# run. Also: passing fields to IOMMUDIRTY_OPTS in C++ must not compile.
# usage: tests/lang/check.sh <cmake build dir with libiommudirty.so>
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
inc=$here/../../include
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-Wall -Wextra -pedantic -Werror -I"$inc")
n=0
fails=0
build_run() { # compiler std source
	local out=$tmp/$1-$2
	if ! "$1" -std="$2" "${flags[@]}" "$3" -o "$out" -L"$build" -liommudirty -pthread; then
		echo "lang: $1 -std=$2 does not compile $(basename "$3")"
		fails=$((fails + 1))
	elif ! LD_LIBRARY_PATH=$build "$out" >/dev/null; then
		echo "lang: $1 -std=$2: the program failed"
		fails=$((fails + 1))
	fi
	n=$((n + 1))
}
for cc in gcc clang; do
	for std in c99 c11 c17; do
		build_run "$cc" "$std" "$here/consumer.c"
	done
done
for cxx in g++ clang++; do
	for std in c++11 c++14 c++17 c++20; do
		build_run "$cxx" "$std" "$here/consumer.cpp"
	done
done
# In C++ a field given to the macro would be silently lost: it must fail.
printf '#include <iommudirty.h>\nint main() { IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = 1); return (int)o.flags; }\n' \
	>"$tmp/fields.cpp"
if g++ -std=c++20 "${flags[@]}" -c "$tmp/fields.cpp" -o "$tmp/fields.o" 2>/dev/null; then
	echo "lang: IOMMUDIRTY_OPTS with fields compiled in C++ (fields would be dropped)"
	fails=$((fails + 1))
fi
n=$((n + 1))
echo "lang: $((n - fails)) of $n language-mode checks passed"
[ "$fails" -eq 0 ]
