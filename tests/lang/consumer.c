/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The header as a strict C consumer sees it (tests/lang/check.sh builds
 * this with -std=c99/c11/c17 -pedantic -Wall -Wextra -Werror): both forms
 * of IOMMUDIRTY_OPTS, and a device write read back as dirty on the sim. */
#include <stdint.h>
#include <stdio.h>

#include <iommudirty.h>

#define PAGE 4096u
static unsigned char ram[16 * PAGE] __attribute__((aligned(4096)));

int main(void)
{
	uint64_t bitmap[1] = { 0 };
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so);
	struct iommudirty_sim *sim = iommudirty_sim_new(&so);
	struct iommudirty_ctx *ctx = NULL;
	struct iommudirty_device *dev = NULL;
	struct iommudirty_tracker *t = NULL;
	unsigned char byte = 1;
	int sdev, ok;

	if (!sim || iommudirty_sim_add_iommu(sim, NULL) < 0)
		return 1;
	sdev = iommudirty_sim_add_device(sim, 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim);
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to);

		ctx = iommudirty_ctx_new(&co);
		ok = ctx &&
		     !iommudirty_device_bind(ctx, iommudirty_sim_open_device(sim, sdev), &dev) &&
		     !iommudirty_tracker_new(ctx, &to, &t) && !iommudirty_tracker_attach(t, dev) &&
		     !iommudirty_tracker_map(t, ram, sizeof(ram), 0x100000,
					     IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE) &&
		     !iommudirty_tracker_start(t) &&
		     !iommudirty_sim_dma_write(sim, sdev, 0x100000 + 3 * PAGE, 1, &byte) &&
		     !iommudirty_tracker_read(t, 0x100000, sizeof(ram), PAGE, bitmap,
					      sizeof(bitmap), 0) &&
		     bitmap[0] == 1u << 3 && ram[3 * PAGE] == 1;
	}
	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	iommudirty_sim_free(sim);
	printf("C %ld: %s\n", (long)__STDC_VERSION__, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
