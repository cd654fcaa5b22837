#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# iommudirty-probe on fixture trees built here (symlinks made at test time):
# no devices, a vfio-pci device without cdev, no /dev/iommu, /dev nodes
# that are plain files, variant drivers, --json validity, exit codes,
# --help and bad usage (--devlink-port syntax among them), the devlink line
# of a non-VF. devlink.sh has the rest of devlink on the sim. Usage: check.sh path/to/iommudirty-probe
set -u
probe=${1:?usage: $0 iommudirty-probe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

# A sysfs tree: add_dev ROOT BDF DRIVER [GROUP] [CDEV]
add_dev() {
	local root=$1 bdf=$2 drv=$3 grp=${4:-} cdev=${5:-} d
	d=$root/sys/devices/pci0000:00/$bdf
	mkdir -p "$d" "$root/sys/bus/pci/devices" "$root/sys/bus/pci/drivers/$drv"
	ln -s "../../../devices/pci0000:00/$bdf" "$root/sys/bus/pci/devices/$bdf"
	ln -s "../../../bus/pci/drivers/$drv" "$d/driver"
	if [ -n "$grp" ]; then
		mkdir -p "$root/sys/kernel/iommu_groups/$grp"
		ln -s "../../../kernel/iommu_groups/$grp" "$d/iommu_group"
	fi
	if [ -n "$cdev" ]; then
		mkdir -p "$d/vfio-dev/$cdev"
	fi
}

json_ok() { # name: $out must be JSON; print a field with python if we can
	if command -v python3 >/dev/null; then
		if printf '%s\n' "$out" | python3 -c "$2"; then ok "$1"; else
			bad "$1"; printf '%s\n' "$out" | sed 's/^/    /'; fi
	else
		# Minimal: balanced braces/brackets and the keys we need.
		local o c
		o=$(printf '%s' "$out" | tr -cd '{[' | wc -c)
		c=$(printf '%s' "$out" | tr -cd '}]' | wc -c)
		if [ "$o" = "$c" ] && printf '%s' "$out" | grep -q '"exit"'; then ok "$1"; else bad "$1"; fi
	fi
}

# --- usage ---------------------------------------------------------------
run "--help" 0 --help
has "--help documents the exit status" "Exit status"
has "--help documents --iommufd-fd" "--iommufd-fd"
run "unknown option" 3 --bogus
run "stray argument" 3 stray
run "--iommufd-fd without --dev-id" 3 --iommufd-fd 0
run "--dev-id not a number" 3 --iommufd-fd 0 --dev-id x1
run "--iommufd-fd negative" 3 --iommufd-fd -1 --dev-id 1
# An fd that is not an iommufd: GET_HW_INFO fails, clean message.
run "--iommufd-fd not an iommufd" 3 --iommufd-fd 0 --dev-id 1 </dev/null
has "not an iommufd: says why" "IOMMU_GET_HW_INFO"
run "--iommufd-fd closed fd" 3 --iommufd-fd 250 --dev-id 1
run "--help" 0 --help
has "--help documents --devlink-port" "--devlink-port BUS/DEV/INDEX"
has "--help documents --set-migratable" "--set-migratable on|off"
# devlink port handles: bus/dev/index, as devlink(8) prints them; anything
# else is a usage error before any netlink traffic.
for p in pci pci/0000:03:00.0 pci/0000:03:00.0/ /0000:03:00.0/1 pci//1 \
	pci/0000:03:00.0/x pci/0000:03:00.0/-1 pci/0000:03:00.0/4294967296 \
	pci/0000:03:00.0/1/2 "pci/0000:03 00.0/1" "pci/0000:03:00.0/ 1" \
	pci/0000:03:00.0/0x1 "" 'pc$/0000:03:00.0/1' \
	pci/0123456789012345678901234567890123456789012345678901234567890123/1 \
	pcipcipcipcipcipci/0000:03:00.0/1; do
	run "bad --devlink-port '$p'" 3 --devlink-port "$p"
	has "bad --devlink-port '$p': says the syntax" "want BUS/DEV/INDEX"
done
mkdir -p "$tmp/nodev/sys/bus/pci/devices" "$tmp/nodev/dev"
run "good --devlink-port, max index, no devices" 2 --devlink-port pci/0000:03:00.0/4294967295 \
	--sysfs-root "$tmp/nodev/sys" --dev-root "$tmp/nodev/dev"
for d in 0000:03:00 03:00.0 0000:03:00.8 0000:03:00.0/ zzzz:03:00.0; do
	run "bad --device '$d'" 3 --device "$d"
done
run "--set-migratable without device or port" 3 --set-migratable on
run "--set-migratable bad value" 3 --set-migratable maybe --device 0000:03:00.2

# --- no sysfs / no devices ----------------------------------------------
run "sysfs root missing" 3 --sysfs-root "$tmp/nowhere" --dev-root "$tmp/nowhere"
has "sysfs missing: says which" "cannot read $tmp/nowhere/bus/pci/devices"

r=$tmp/empty
mkdir -p "$r/sys/bus/pci/devices" "$r/dev"
add_dev "$r" 0000:00:02.0 e1000e 3   # bound to a host driver: not ours
add_dev "$r" 0000:00:04.0 vfio-pci-ish-but-no 4 vfio9
rm "$r/sys/devices/pci0000:00/0000:00:04.0/driver" # unbound: no driver link
run "no devices" 2 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "no devices: message" "no PCI device is bound to vfio-pci"
run "no devices --json" 2 --json --sysfs-root "$r/sys" --dev-root "$r/dev"
json_ok "no devices: JSON" 'import json,sys; d=json.load(sys.stdin); assert d["devices"]==[] and d["exit"]==2'

# --- a vfio-pci device without cdev, no /dev/iommu -----------------------
r=$tmp/nocdev
mkdir -p "$r/dev"
add_dev "$r" 0000:00:03.0 vfio-pci 7
run "vfio-pci without cdev" 1 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "no cdev: group shown" "0000:00:03.0: driver vfio-pci, IOMMU group 7"
has "no cdev: said" "no VFIO cdev"
has "no cdev: container absent" "cannot open type1 container $r/dev/vfio/vfio: No such file or directory"
has "no cdev: verdict" "verdict: no: no VFIO cdev"
# No physfn under --sysfs-root: no VF, whatever the host's /sys says.
has "no cdev: devlink line" "  devlink: not a VF (migratable does not apply)"
run "--device picks the device" 1 --device 0000:00:03.0 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "--device: reported" "0000:00:03.0: driver vfio-pci"
run "--device not bound to VFIO" 2 --device 0000:00:09.0 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "--device not bound: said" "0000:00:09.0 is not bound to vfio-pci"

# --- cdev present, /dev/iommu absent; variant driver; plain-file nodes -----
r=$tmp/plain
mkdir -p "$r/dev/vfio/devices"
add_dev "$r" 0000:3b:00.1 mlx5_vfio_pci 12 vfio0
add_dev "$r" 0000:3b:00.2 pds_vfio_pci 13 vfio1
add_dev "$r" 0000:00:1f.0 lpc_ich 1
: > "$r/dev/vfio/devices/vfio0"
: > "$r/dev/vfio/vfio"
: > "$r/dev/vfio/12"
run "no /dev/iommu" 1 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "no /dev/iommu: said" "no $r/dev/iommu"
has "variant driver mlx5_vfio_pci found" "0000:3b:00.1: driver mlx5_vfio_pci, IOMMU group 12"
has "variant driver pds_vfio_pci found" "0000:3b:00.2: driver pds_vfio_pci"
has "cdev path" "VFIO cdev:          $r/dev/vfio/devices/vfio0"
has "plain-file container: cannot open" "cannot open type1 container $r/dev/vfio/vfio: not a character device"
if printf '%s\n' "$out" | grep -q "lpc_ich"; then bad "host-driver device listed"; else ok "host-driver device skipped"; fi

: > "$r/dev/iommu"
run "plain-file /dev/iommu" 1 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "plain-file /dev/iommu: said" "$r/dev/iommu is not a character device"
run "plain-file nodes --json" 1 --json --sysfs-root "$r/sys" --dev-root "$r/dev"
json_ok "plain-file nodes: JSON" '
import json, sys
d = json.load(sys.stdin)
assert d["exit"] == 1 and d["mode"] == "pci"
devs = {x["device"]: x for x in d["devices"]}
assert sorted(devs) == ["0000:3b:00.1", "0000:3b:00.2"], devs.keys()
a = devs["0000:3b:00.1"]
assert a["driver"] == "mlx5_vfio_pci" and a["iommu_group"] == "12"
assert a["cdev"].endswith("/dev/vfio/devices/vfio0") and a["dev_iommu"] is False
assert a["migration"] is None and a["iommu"] is None and a["verdict"] == "no"
assert a["verdict_text"].startswith("no: ")
assert a["type1"]["container"] is False
assert a["devlink"]["code"] == 545 and a["devlink"]["migratable"] is None
assert a["devlink"]["line"] == "not a VF (migratable does not apply)"'

# Character devices that are not VFIO or iommufd (/dev/null): the ioctls
# fail and are reported, nothing crashes.
ln -sf /dev/null "$r/dev/vfio/devices/vfio1"
ln -sf /dev/null "$r/dev/vfio/vfio"
rm -f "$r/dev/iommu"
ln -s /dev/null "$r/dev/iommu"
run "/dev/null as every node" 1 --sysfs-root "$r/sys" --dev-root "$r/dev"
has "/dev/null: bind refused cleanly" "VFIO_DEVICE_BIND_IOMMUFD / IOMMU_GET_HW_INFO: Inappropriate ioctl for device"
has "/dev/null: type1 refused cleanly" "type1: VFIO_GET_API_VERSION: Inappropriate ioctl for device"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
