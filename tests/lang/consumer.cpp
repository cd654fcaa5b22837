// SPDX-License-Identifier: LGPL-2.1-or-later
// The header as a C++ consumer sees it (tests/lang/check.sh builds this with
// -std=c++11/14/17/20 -pedantic -Wall -Wextra -Werror): IOMMUDIRTY_OPTS
// with fields set by name, and a device write read back as dirty on the sim.
#include <cstdint>
#include <cstdio>

#include <iommudirty.h>

namespace {

const unsigned PAGE = 4096;
alignas(4096) unsigned char ram[16 * PAGE];

// RAII so the order of frees is the header's, whatever fails.
struct handles {
	iommudirty_sim *sim = nullptr;
	iommudirty_ctx *ctx = nullptr;
	iommudirty_device *dev = nullptr;
	iommudirty_tracker *t = nullptr;
	~handles()
	{
		iommudirty_tracker_free(t);
		iommudirty_device_free(dev);
		iommudirty_ctx_free(ctx);
		iommudirty_sim_free(sim);
	}
};

bool run()
{
	handles h;
	std::uint64_t bitmap[1] = { 0 };
	unsigned char byte = 1;

	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so);
	h.sim = iommudirty_sim_new(&so);
	if (!h.sim || iommudirty_sim_add_iommu(h.sim, nullptr) < 0)
		return false;
	int sdev = iommudirty_sim_add_device(h.sim, 0);

	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co);
	co.sim = h.sim;
	if (co.sz != sizeof(co) || co.flags != 0)
		return false;
	h.ctx = iommudirty_ctx_new(&co);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to);
	return h.ctx &&
	       !iommudirty_device_bind(h.ctx, iommudirty_sim_open_device(h.sim, sdev), &h.dev) &&
	       !iommudirty_tracker_new(h.ctx, &to, &h.t) && !iommudirty_tracker_attach(h.t, h.dev) &&
	       !iommudirty_tracker_map(h.t, ram, sizeof(ram), 0x100000,
				       IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE) &&
	       !iommudirty_tracker_start(h.t) &&
	       !iommudirty_sim_dma_write(h.sim, sdev, 0x100000 + 3 * PAGE, 1, &byte) &&
	       !iommudirty_tracker_read(h.t, 0x100000, sizeof(ram), PAGE, bitmap, sizeof(bitmap), 0) &&
	       bitmap[0] == 1u << 3 && ram[3 * PAGE] == 1;
}

} // namespace

int main()
{
	bool ok = run();
	std::printf("C++ %ld: %s\n", static_cast<long>(__cplusplus), ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
