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

# A link page is exactly one .so line (comment lines aside); prints its
# target, relative to the man root.
so_target() {
	grep -v '^\.\\"' "$1" | awk '
		NF == 0 { next }
		{ n++; line = $0 }
		END { if (n == 1 && line ~ /^\.so man[0-9]\/[^ ]+$/) print substr(line, 5) }'
}

# The names a full page's NAME section lists (before "\-").
page_names() {
	awk '/^\.SH /{ in_name = ($2 == "NAME") ; next } in_name' "$1" |
		tr '\n' ' ' | sed 's/\\-.*//' | tr ',' '\n' | tr -d ' \t\\'
}

# Sets $resolved to the full page a symbol's page leads to; else FAILs
# and returns 1.
resolved=
resolve() { # symbol
	local f=$man/$1.3 t
	resolved=
	if [ ! -f "$f" ]; then
		fail "$1: no page doc/man/$1.3"
		return 1
	fi
	t=$(so_target "$f")
	if [ -n "$t" ]; then
		if [ ! -f "$tmp/root/$t" ]; then
			fail "$1: doc/man/$1.3 links to $t, which does not exist"
			return 1
		fi
		if [ -n "$(so_target "$tmp/root/$t")" ]; then
			fail "$1: doc/man/$1.3 links to $t, itself a link page"
			return 1
		fi
		f=$tmp/root/$t
	elif grep -q '^\.so' "$f"; then
		fail "$1: doc/man/$1.3 is neither a full page nor a one-line .so link"
		return 1
	fi
	resolved=$f
}

# ---- (a) every exported symbol has a page whose NAME lists it
symbols=$(cat "${maps[@]}" | sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\);[[:space:]]*$/\1/p' | sort -u)
[ -n "$symbols" ] || fail "no symbol found in ${maps[*]}"
nsym=0
for s in $symbols; do
	nsym=$((nsym + 1))
	resolve "$s" || continue
	f=$resolved
	page_names "$f" | grep -qx "$s" ||
		fail "$s: its page ${f##*/} does not list it in NAME"
done

# ---- (b) mandoc -T lint -W warning, from the man root
npages=0
for p in "${pages[@]}"; do
	b=${p##*/}
	rel=man${b##*.}/$b
	npages=$((npages + 1))
	out=$(cd "$tmp/root" && mandoc -T lint -W warning "$rel" 2>&1)
	if [ -n "$(so_target "$p")" ]; then
		out=$(printf '%s\n' "$out" | grep -v "^mandoc: $rel:1:2: WARNING: \.so is fragile, better use ln(1): so " | sed '/^$/d')
	else
		th=$(awk '$1 == ".TH" { print $2; exit }' "$p")
		[ "$th" = "${b%.*}" ] || fail "$b: .TH title is '$th', not '${b%.*}'"
	fi
	if [ -n "$out" ]; then
		fail "$b: mandoc -T lint -W warning:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done

# ---- (c) every IOMMUDIRTY_API function's exact prototype in its SYNOPSIS
norm() { # whitespace: one blank between words, none around punctuation
	tr '\n\t' '  ' | sed -e 's/  */ /g' -e 's/ *\([][*(),;]\) */\1/g' -e 's/^ //' -e 's/ $//'
}
protos=$(awk '
	/^IOMMUDIRTY_API[ \t]/ { acc = ""; on = 1 }
	on { acc = acc " " $0 }
	on && /;/ { sub(/^ *IOMMUDIRTY_API[ \t]+/, "", acc); print acc; on = 0 }' "$hdr")
nfn=0
while IFS= read -r proto; do
	[ -n "$proto" ] || continue
	p=$(printf '%s' "$proto" | norm)
	name=$(printf '%s' "$p" | sed 's/(.*//; s/.*[ *]//')
	nfn=$((nfn + 1))
	if grep -qx "$name" <<<"$symbols"; then
		[ -f "$man/$name.3" ] || continue # (a) named it
	else
		fail "$name: declared in the header, in no version script"
	fi
	resolve "$name" || continue
	f=$resolved
	rel=${f#"$tmp/root/"}
	[ "$rel" != "$f" ] || rel=man3/${f##*/}
	syn=$(cd "$tmp/root" && mandoc -T ascii "$rel" 2>/dev/null | sed 's/.\x08//g' |
		awk '/^SYNOPSIS$/ { on = 1; next } /^[A-Z]/ { on = 0 } on' | norm)
	case "$syn" in
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
