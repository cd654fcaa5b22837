#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fail (exit 1) when iommudirty-sys/src/bindings.rs is not what regen.sh
# makes from include/iommudirty.h now; print the difference. Exit 2 when
# bindgen or rustfmt is missing (apt-get install bindgen libclang-dev).
set -u

here=$(cd "$(dirname "$0")" && pwd)
committed=$here/iommudirty-sys/src/bindings.rs
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT

"$here/regen.sh" -o "$fresh" || exit 2
if diff -u "$committed" "$fresh"; then
	echo "check-bindings: iommudirty-sys/src/bindings.rs is current"
	exit 0
fi
echo "check-bindings: iommudirty-sys/src/bindings.rs is stale: run bindings/rust/regen.sh and commit it" >&2
exit 1
