# SPDX-License-Identifier: LGPL-2.1-or-later
# The checks check.sh and devlink.sh share. Sourced after $probe is set;
# counts in $pass and $fail, the last run's output in $out.
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# run NAME WANT_RC ARGS...: output in $out, rc checked; never a crash.
run() {
	local name=$1 want=$2
	shift 2
	out=$("$probe" "$@" 2>&1)
	rc=$?
	if [ $rc -ge 128 ]; then
		bad "$name: killed by signal $((rc - 128))"
	elif [ $rc -ne "$want" ]; then
		bad "$name: exit $rc, want $want"; printf '%s\n' "$out" | sed 's/^/    /'
	else
		ok "$name (exit $rc)"
	fi
}

has() { # name string: a line of $out contains it
	if printf '%s\n' "$out" | grep -qF -- "$2"; then ok "$1"; else
		bad "$1: no \"$2\" in:"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}
