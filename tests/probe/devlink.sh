#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# iommudirty-probe's devlink line and --set-migratable on the simulated
# kernel: iommudirty-probe-sim is the probe built with PROBE_SIM_SEAM, whose
# devlink questions go to a sim declared with --sim-port (sim device i is
# PCI 0000:00:<i+1>.0); the sysfs tree the probe scans is a fixture built
# here that mirrors the sim's VFs (physfn links).
# Usage: devlink.sh path/to/iommudirty-probe-sim libnl|nolibnl
set -u
probe=${1:?usage: $0 iommudirty-probe-sim libnl|nolibnl}
libnl=${2:?usage: $0 iommudirty-probe-sim libnl|nolibnl}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

line() { # name exact-line: $out has exactly this line
	if printf '%s\n' "$out" | grep -qxF -- "$2"; then ok "$1"; else
		bad "$1: no line \"$2\" in:"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

hasnt() { # name string
	if printf '%s\n' "$out" | grep -qF -- "$2"; then
		bad "$1: \"$2\" in:"; printf '%s\n' "$out" | sed 's/^/    /'; else ok "$1"; fi
}

json_ok() { # name python-code reading $out
	if ! command -v python3 >/dev/null; then ok "$1 (no python3: skipped)"; return; fi
	if printf '%s\n' "$out" | python3 -c "$2"; then ok "$1"; else
		bad "$1"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

# The sim: device -> BDF 0000:00:<device+1, hex>.0
bdf() { printf '0000:00:%02x.0' $(($1 + 1)); }
PF=2 VF_OFF=3 VF_NOOP=4 VF_ON=5 PF_LEG=6 VF_LEG=7 PF2=8 VF_NOPORT=9 PLAIN=10
sim=(
	--sim-port "pf=$PF,vf=-1,index=0,flavour=physical,op"
	--sim-port "pf=$PF,vf=$VF_OFF,index=1,vfnum=0,op"
	--sim-port "pf=$PF,vf=$VF_NOOP,index=2,vfnum=1"
	--sim-port "pf=$PF,vf=$VF_ON,index=3,vfnum=2,op,on"
	--sim-port "pf=$PF_LEG,vf=$VF_LEG,index=0,vfnum=0,noport,legacy"
	--sim-port "pf=$PF2,vf=$VF_NOPORT,index=0,vfnum=3,noport"
)
pf=$(bdf $PF)

# The fixture tree: every device bound to a VFIO driver; VFs link physfn.
r=$tmp/t
mkdir -p "$r/sys/bus/pci/devices" "$r/dev"
add_dev() { # bdf driver [physfn-bdf]
	local d=$r/sys/devices/pci0000:00/$1
	mkdir -p "$d" "$r/sys/bus/pci/drivers/$2"
	ln -s "../../../devices/pci0000:00/$1" "$r/sys/bus/pci/devices/$1"
	ln -s "../../../bus/pci/drivers/$2" "$d/driver"
	[ -z "${3:-}" ] || ln -s "../$3" "$d/physfn"
}
add_dev "$pf" vfio-pci
for v in $VF_OFF $VF_NOOP $VF_ON; do add_dev "$(bdf $v)" mlx5_vfio_pci "$pf"; done
add_dev "$(bdf $PF_LEG)" vfio-pci
add_dev "$(bdf $VF_LEG)" mlx5_vfio_pci "$(bdf $PF_LEG)"
add_dev "$(bdf $PF2)" vfio-pci
add_dev "$(bdf $VF_NOPORT)" mlx5_vfio_pci "$(bdf $PF2)"
add_dev "$(bdf $PLAIN)" vfio-pci
tree=(--sysfs-root "$r/sys" --dev-root "$r/dev")

# probe DEVICE ARGS...: the report of one device
report() { local d=$1; shift; run "$name" 1 "${tree[@]}" "${sim[@]}" --device "$d" "$@"; }

if [ "$libnl" = nolibnl ]; then
	# -- a library without libnl: the VF cannot be asked, a non-VF is told.
	name="no libnl: VF"; report "$(bdf $VF_OFF)"
	line "no libnl: the line" "  devlink: not built with libnl"
	hasnt "no libnl: no devlink hint in the verdict" "enable devlink migratable"
	name="no libnl: non-VF"; report "$(bdf $PLAIN)"
	line "no libnl: non-VF line" "  devlink: not a VF (migratable does not apply)"
	run "no libnl: --set-migratable fails" 1 "${sim[@]}" --set-migratable on --device "$(bdf $VF_OFF)"
	has "no libnl: set says errno" "failed: Operation not supported (errno 95)"
	line "no libnl: set says why" "devlink: not built with libnl"
	echo "$pass passed, $fail failed"
	[ $fail -eq 0 ]
	exit
fi

# -- the report's devlink line, one per device --------------------------
name="VF, migratable off"; report "$(bdf $VF_OFF)"
line "off: the hint line" "  devlink: migratable off (pci/$pf/1); enable with: devlink port function set pci/$pf/1 migratable enable"
has "off: verdict mentions devlink" "; devlink migratable is off: enable devlink migratable, then rebind"
has "off: verdict is still no" "  verdict: no: "

name="VF, migratable on"; report "$(bdf $VF_ON)"
line "on: the line" "  devlink: migratable on (pci/$pf/3)"
hasnt "on: no devlink hint in the verdict" "enable devlink migratable"

name="non-VF"; report "$(bdf $PLAIN)"
line "non-VF: the line" "  devlink: not a VF (migratable does not apply)"

name="VF, driver without the op"; report "$(bdf $VF_NOOP)"
line "no op: reason text and code" "  devlink: the port's driver has no \`migratable\` operation (pci/$pf/2) [542]"

name="VF of a legacy-mode PF"; report "$(bdf $VF_LEG)"
has "legacy: not switchdev [541]" "  devlink: the PF's eswitch is not in switchdev mode"
has "legacy: code and PF" "(pci/$(bdf $PF_LEG)) [541]"

name="VF without a port"; report "$(bdf $VF_NOPORT)"
line "no port [546]" "  devlink: the PF has no PCI_VF port with this VF's number (pci/$(bdf $PF2)) [546]"

name="no devlink family"; report "$(bdf $VF_OFF)" --sim-no-devlink
has "no family: unavailable [543]" "  devlink: not available (no devlink netlink family"
has "no family: code" "[543]"

# Every device of the tree: one devlink line each.
run "whole tree" 1 "${tree[@]}" "${sim[@]}"
n=$(printf '%s\n' "$out" | grep -c '^  devlink: ')
[ "$n" -eq 9 ] && ok "one devlink line per device (9)" || bad "devlink lines: $n, want 9"

# -- --devlink-port: an explicit port wins over the sysfs lookup ---------
name="--devlink-port on a non-VF device"; report "$(bdf $PLAIN)" --devlink-port "pci/$pf/1"
line "explicit port: its state" "  devlink: migratable off (pci/$pf/1); enable with: devlink port function set pci/$pf/1 migratable enable"
name="--devlink-port, a PHYSICAL port"; report "$pf" --devlink-port "pci/$pf/0"
line "explicit non-VF port" "  devlink: pci/$pf/0 is not a VF port (migratable does not apply)"
name="--devlink-port, no such port"; report "$pf" --devlink-port "pci/$pf/77"
has "explicit port absent: unavailable" "(pci/$pf/77) [543]"
run "--devlink-port with several devices" 3 "${tree[@]}" "${sim[@]}" --devlink-port "pci/$pf/1"
has "several devices: says --device" "name it with --device BDF"
run "--device not bound to VFIO" 2 "${tree[@]}" "${sim[@]}" --device 0000:00:1f.0
has "--device not bound: said" "0000:00:1f.0 is not bound to vfio-pci"

# -- JSON ----------------------------------------------------------------
run "VF off --json" 1 --json "${tree[@]}" "${sim[@]}" --device "$(bdf $VF_OFF)"
json_ok "off: JSON devlink object" "
import json, sys
d = json.load(sys.stdin)
(x,) = d['devices']
dl = x['devlink']
assert dl['migratable'] is False and dl['code'] == 540, dl
assert dl['port'] == 'pci/$pf/1' and dl['hint'] == 'devlink port function set pci/$pf/1 migratable enable', dl
assert dl['line'].startswith('migratable off (pci/$pf/1); enable with: '), dl
assert dl['message'] is None
assert x['verdict_text'].endswith('devlink migratable is off: enable devlink migratable, then rebind')"
run "non-VF --json" 1 --json "${tree[@]}" "${sim[@]}" --device "$(bdf $PLAIN)"
json_ok "non-VF: JSON" "
import json, sys
dl = json.load(sys.stdin)['devices'][0]['devlink']
assert dl['migratable'] is None and dl['code'] == 545 and dl['port'] is None, dl"

# -- --set-migratable ----------------------------------------------------
run "set on, VF by sysfs" 0 "${sim[@]}" --set-migratable on --device "$(bdf $VF_OFF)"
line "set on: done" "devlink: set migratable on (pci/$pf/1): done"
line "set on: the query after shows on" "devlink: migratable on (pci/$pf/1)"
run "set off, explicit port" 0 "${sim[@]}" --set-migratable off --devlink-port "pci/$pf/3"
line "set off: done" "devlink: set migratable off (pci/$pf/3): done"
line "set off: the query after shows off, with the hint" \
	"devlink: migratable off (pci/$pf/3); enable with: devlink port function set pci/$pf/3 migratable enable"
run "set refused: driver without the op" 1 "${sim[@]}" --set-migratable on --device "$(bdf $VF_NOOP)"
line "refusal: errno" "devlink: set migratable on (pci/$pf/2): failed: Operation not supported (errno 95)"
has "refusal: the kernel's extack message" "the kernel says: Port doesn't support migratable function attribute"
run "set refused: a non-VF port" 1 "${sim[@]}" --set-migratable enable --devlink-port "pci/$pf/0"
has "non-VF port: errno" "failed: Operation not supported (errno 95)"
line "non-VF port: message" "devlink: pci/$pf/0 is not a VF port (migratable does not apply); the kernel says: migratable function attribute supported for VFs only"
run "set on a non-VF device" 1 "${sim[@]}" --set-migratable on --device "$(bdf $PLAIN)"
has "non-VF device: errno" "failed: No such device (errno 19)"
line "non-VF device: why" "devlink: not a VF (migratable does not apply)"
run "set without devlink" 1 "${sim[@]}" --sim-no-devlink --set-migratable on --device "$(bdf $VF_OFF)"
has "no devlink: unavailable" "[543]"
# Without CAP_NET_ADMIN genetlink refuses the set (EPERM, no message):
# exit 3, the tool's "no permission" status.
run "set without CAP_NET_ADMIN" 3 "${sim[@]}" --sim-no-net-admin --set-migratable on --device "$(bdf $VF_OFF)"
has "no CAP_NET_ADMIN: errno" "failed: Operation not permitted (errno 1)"
run "set without CAP_NET_ADMIN --json" 3 --json "${sim[@]}" --sim-no-net-admin --set-migratable on --device "$(bdf $VF_OFF)"
json_ok "no CAP_NET_ADMIN: JSON" "
import json, sys
d = json.load(sys.stdin)
assert d['ok'] is False and d['errno'] == 1 and d['exit'] == 3, d"
name="no CAP_NET_ADMIN: the query still answers"; report "$(bdf $VF_OFF)" --sim-no-net-admin
has "no CAP_NET_ADMIN: query" "devlink: migratable off (pci/$pf/1)"
run "set refused --json" 1 --json "${sim[@]}" --set-migratable on --device "$(bdf $VF_NOOP)"
json_ok "refusal: JSON" "
import json, sys
d = json.load(sys.stdin)
assert d['mode'] == 'set-migratable' and d['ok'] is False and d['errno'] == 95 and d['exit'] == 1, d
assert d['devlink']['message'] == \"Port doesn't support migratable function attribute\", d
assert d['devlink']['code'] == 542, d"

# -- usage ---------------------------------------------------------------
run "--set-migratable without a device or port" 3 "${sim[@]}" --set-migratable on
run "--set-migratable bad value" 3 --set-migratable yes --device "$(bdf $VF_OFF)"
run "--set-migratable with --iommufd-fd" 3 --set-migratable on --devlink-port "pci/$pf/1" --iommufd-fd 0 --dev-id 1

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
