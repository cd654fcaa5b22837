#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# tests/man/check.sh <source dir>: the man pages in doc/man against the
# library's interface. Fails, naming what is wrong, unless
#  (a) every symbol of every node of the version scripts (src/*.map:
#      libiommudirty.map, and libiommudirty_sim.map for the simulated
#      kernel's node) has a page
#      doc/man/<symbol>.3: a full page, or a link page (one line
#      ".so man3/<page>.3") to a full page that exists; either way the
#      full page's NAME section lists the symbol;
#  (b) every page (doc/man/*.[378]) is clean under `mandoc -T lint -W
#      warning`: no output at all, except, on a link page, the one warning
#      mandoc gives every .so request (".so is fragile"): the link pages are
#      .so files on purpose, as liburing's are;
#  (c) every function the header declares (IOMMUDIRTY_API) has a page, and
#      its prototype appears in that page's SYNOPSIS exactly (as mandoc
#      renders it; whitespace normalised);
#  and every full page's .TH title is its file name.
# mandoc is installed from Debian's archive when missing, as build.sh does.
set -u

src=${1:?usage: check.sh <source dir>}
man=$src/doc/man
hdr=$src/include/iommudirty.h
shopt -s nullglob
maps=("$src"/src/*.map)

[ -f "$hdr" ] || { echo "check.sh: no $hdr" >&2; exit 1; }
[ ${#maps[@]} -gt 0 ] || { echo "check.sh: no version script in $src/src" >&2; exit 1; }
[ -d "$man" ] || { echo "FAIL: no man page directory $man"; exit 1; }

if ! command -v mandoc >/dev/null; then
	echo "check.sh: installing mandoc"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends mandoc >/dev/null
	command -v mandoc >/dev/null || { echo "FAIL: mandoc is not installed and could not be" >&2; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
errors=0
fail() {
	echo "FAIL: $*"
	errors=$((errors + 1))
}

# The pages as installed: man3/, man7/, man8/ under one root, so that the
# link pages' ".so man3/x.3" resolve as they do for man(1).
pages=("$man"/*.3 "$man"/*.7 "$man"/*.8)
for p in "${pages[@]}"; do
	b=${p##*/}
	mkdir -p "$tmp/root/man${b##*.}"
	cp "$p" "$tmp/root/man${b##*.}/$b"
done
[ ${#pages[@]} -gt 0 ] || fail "no page in $man"

# A link page is exactly one .so line (comment lines aside): sets $target
# to its target, relative to the man root, or to "" for any other page.
target=
so_target() {
	local line n=0 last=
	target=
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
		'.\"'*) ;;
		*[![:space:]]*) n=$((n + 1)); last=$line ;;
		esac
	done <"$1"
	if [ "$n" -eq 1 ] && [[ "$last" =~ ^\.so\ (man[0-9]/[^[:space:]]+)$ ]]; then
		target=${BASH_REMATCH[1]}
	fi
}

# Per full page, once: the names its NAME section lists (before "\-"), one
# a line, and its SYNOPSIS as mandoc renders it, whitespace normalised.
norm() { # one blank between words, none around punctuation
	tr '\n\t' '  ' | sed -e 's/  */ /g' -e 's/ *\([][*(),;]\) */\1/g' -e 's/^ //' -e 's/ $//'
}
declare -A names_of syn_of
page_info() { # full page path
	[ -n "${names_of[$1]+x}" ] && return
	names_of[$1]=$(awk '/^\.SH /{ in_name = ($2 == "NAME"); next } in_name' "$1" |
		tr '\n' ' ' | sed 's/\\-.*//' | tr ',' '\n' | tr -d ' \t\\')
	local rel=${1#"$tmp/root/"}
	syn_of[$1]=$(cd "$tmp/root" && mandoc -T ascii "$rel" 2>/dev/null | sed 's/.\x08//g' |
		awk '/^SYNOPSIS$/ { on = 1; next } /^[A-Z]/ { on = 0 } on' | norm)
}

# Sets $resolved to the full page a symbol's page leads to; else FAILs
# and returns 1.
resolved=
resolve() { # symbol
	local f=$man/$1.3
	resolved=
	if [ ! -f "$f" ]; then
		fail "$1: no page doc/man/$1.3"
		return 1
	fi
	so_target "$f"
	if [ -n "$target" ]; then
		local t=$target
		if [ ! -f "$tmp/root/$t" ]; then
			fail "$1: doc/man/$1.3 links to $t, which does not exist"
			return 1
		fi
		so_target "$tmp/root/$t"
		if [ -n "$target" ]; then
			fail "$1: doc/man/$1.3 links to $t, itself a link page"
			return 1
		fi
		f=$tmp/root/$t
	elif grep -q '^\.so' "$f"; then
		fail "$1: doc/man/$1.3 is neither a full page nor a one-line .so link"
		return 1
	else
		f=$tmp/root/man3/$1.3
	fi
	page_info "$f"
	resolved=$f
}

# ---- (a) every exported symbol has a page whose NAME lists it
symbols=$(cat "${maps[@]}" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);[[:space:]]*$/\1/p' | sort -u)
[ -n "$symbols" ] || fail "no symbol found in ${maps[*]}"
nsym=0
declare -A is_sym named
for s in $symbols; do
	nsym=$((nsym + 1))
	is_sym[$s]=1
	resolve "$s" || { named[$s]=1; continue; }
	f=$resolved
	[[ $'\n'"${names_of[$f]}"$'\n' == *$'\n'"$s"$'\n'* ]] ||
		fail "$s: its page ${f##*/} does not list it in NAME"
done

# ---- (b) mandoc -T lint -W warning, from the man root, all pages in one
#      run (its messages start "mandoc: <page>:"); the .TH titles
rels=()
links=()
for p in "${pages[@]}"; do
	b=${p##*/}
	rels+=("man${b##*.}/$b")
	so_target "$p"
	if [ -n "$target" ]; then
		links+=("man${b##*.}/$b")
	else
		read -r _ th _ < <(grep -m1 '^\.TH ' "$p")
		[ "${th:-}" = "${b%.*}" ] || fail "$b: .TH title is '${th:-}', not '${b%.*}'"
	fi
done
npages=${#rels[@]}
lint=$(cd "$tmp/root" && mandoc -T lint -W warning "${rels[@]}" 2>&1)
: >"$tmp/so-ok" # the one message every .so request gets
for l in "${links[@]}"; do
	echo "mandoc: $l:1:2: WARNING: .so is fragile, better use ln(1): so " >>"$tmp/so-ok"
done
lint=$(printf '%s\n' "$lint" | grep -vF -f "$tmp/so-ok" | sed '/^$/d')
if [ -n "$lint" ]; then
	fail "mandoc -T lint -W warning:"
	printf '%s\n' "$lint" | sed 's/^/    /'
fi

# ---- (c) every IOMMUDIRTY_API function's exact prototype in its SYNOPSIS
protos=$(awk '
	/^IOMMUDIRTY_API[ \t]/ { acc = ""; on = 1 }
	on { acc = acc " " $0 }
	on && /;/ { sub(/^ *IOMMUDIRTY_API[ \t]+/, "", acc); print acc; on = 0 }' "$hdr" |
	tr '\t' ' ' | sed -e 's/  */ /g' -e 's/ *\([][*(),;]\) */\1/g' -e 's/^ //' -e 's/ $//')
nfn=0
while IFS= read -r p; do
	[ -n "$p" ] || continue
	name=${p%%(*}
	name=${name##*[ *]}
	nfn=$((nfn + 1))
	if [ -n "${is_sym[$name]+x}" ]; then
		[ -z "${named[$name]+x}" ] || continue # (a) named its page's fault
	else
		fail "$name: declared in the header, in no version script"
	fi
	resolve "$name" || continue
	f=$resolved
	case "${syn_of[$f]}" in
	*"$p"*) ;;
	*) fail "$name: prototype not in the SYNOPSIS of ${f##*/}: $p" ;;
	esac
done <<<"$protos"
[ "$nfn" -gt 0 ] || fail "no IOMMUDIRTY_API declaration found in $hdr"

if [ "$errors" -ne 0 ]; then
	echo "man pages: $errors failure(s) ($nsym exported symbols, $nfn header functions, $npages pages)"
	exit 1
fi
echo "man pages: OK ($nsym exported symbols, $nfn header functions, $npages pages)"
