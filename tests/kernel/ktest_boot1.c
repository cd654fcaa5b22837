// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Boot 1 (no vIOMMU): the selftest mock IOMMU of a 6.12 kernel. The trap
 * tests on raw ioctls (tests/common/traps.c), then the library on real
 * kernel code (ktest_lib.c), then the capability report and the probe tool
 * on a mock device that can track and one made with NO_DIRTY.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "iommudirty.h"
#include "kprobe.h"
#include "kutil.h"
#include "mock_abi.h"

void run_lib_tests(const char *boot);

static char why[512];
#define R(name, rc) kresult("boot1", name, rc, why)
#define FAILF(...) (snprintf(why, sizeof(why), __VA_ARGS__), -1)

static bool has_reason(const struct iommudirty_caps *c, uint32_t r)
{
	for (uint32_t i = 0; i < c->nr_reasons; i++)
		if (c->reasons[i] == r)
			return true;
	return false;
}

/* The report of an adopted mock device; then iommudirty-probe on the same
 * device through the inherited iommufd, its output on the console. */
static void caps_and_probe(int fd, struct iommudirty_ctx *ctx, uint32_t idev,
			   bool no_dirty)
{
	const char *tag = no_dirty ? "no_dirty" : "dirty";
	IOMMUDIRTY_OPTS(iommudirty_caps, c);
	struct iommudirty_device *dev = NULL;
	char name[64], fds[16], ids[16], out[8192];
	int rc, ok;

	rc = iommudirty_device_adopt(ctx, -1, idev, &dev);
	if (!rc)
		rc = iommudirty_device_caps(dev, &c);
	iommudirty_device_free(dev);
	ok = rc ? FAILF("adopt/caps = %d", rc) : 0;
	if (!ok && c.vendor != IOMMUDIRTY_VENDOR_SELFTEST)
		ok = FAILF("vendor %u, want SELFTEST", c.vendor);
	if (!ok && c.dirty != !no_dirty)
		ok = FAILF("dirty = %d, want %d", c.dirty, !no_dirty);
	if (!ok && no_dirty && !has_reason(&c, IOMMUDIRTY_REASON_MOCK_NO_DIRTY))
		ok = FAILF("no MOCK_NO_DIRTY reason (%u reasons)", c.nr_reasons);
	if (!ok && !no_dirty && c.nr_reasons)
		ok = FAILF("reason %u on a device that tracks", c.reasons[0]);
	for (uint32_t i = 0; i < c.nr_reasons; i++)
		kinfo("mock %s device reason %u: %s", tag, c.reasons[i],
		      iommudirty_reason_str(c.reasons[i]));
	snprintf(name, sizeof(name), "lib_caps_mock_%s", tag);
	R(name, ok);

	snprintf(fds, sizeof(fds), "%d", fd);
	snprintf(ids, sizeof(ids), "%u", idev);
	{
		const char *argv[] = { "", "--iommufd-fd", fds, "--dev-id", ids, NULL };

		rc = kprobe_run(argv, out, sizeof(out));
	}
	ok = rc == (no_dirty ? 1 : 0) ? 0 : FAILF("probe exit %d, want %d", rc, no_dirty);
	if (!ok && !strstr(out, no_dirty ? "verdict: no: " :
			   "verdict: live migration with precise IOMMU dirty tracking"))
		ok = FAILF("probe verdict not as expected");
	if (!ok && no_dirty && !strstr(out, "MOCK_FLAGS_DEVICE_NO_DIRTY"))
		ok = FAILF("probe does not name MOCK_FLAGS_DEVICE_NO_DIRTY");
	snprintf(name, sizeof(name), "probe_mock_%s", tag);
	R(name, ok);

	if (!no_dirty) {
		const char *argv[] = { "", "--json", "--iommufd-fd", fds, "--dev-id",
				       ids, NULL };

		rc = kprobe_run(argv, out, sizeof(out));
		ok = rc == 0 && strstr(out, "\"verdict\": \"precise\"") &&
		     strstr(out, "\"vendor\": \"selftest mock IOMMU\"") ? 0 :
		     FAILF("probe --json exit %d or fields missing", rc);
		R("probe_mock_json", ok);
	}
}

static void run_probe_tests(void)
{
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	uint32_t stdev, hwpt, idev_dirty = 0, idev_no = 0;
	struct iommudirty_ctx *ctx = NULL;
	int fd, rc;

	/* No O_CLOEXEC: the probe inherits it. */
	fd = open("/dev/iommu", O_RDWR);
	rc = fd < 0 ? FAILF("open /dev/iommu: %s", strerror(errno)) : 0;
	if (!rc)
		rc = kioctl(fd, IOMMU_IOAS_ALLOC, &a) ? FAILF("IOAS_ALLOC") : 0;
	if (!rc)
		rc = mock_domain(fd, a.out_ioas_id, 0, &stdev, &hwpt, &idev_dirty) ?
		     FAILF("MOCK_DOMAIN") : 0;
	if (!rc)
		rc = mock_domain(fd, a.out_ioas_id, MOCK_DEV_NO_DIRTY, &stdev, &hwpt,
				 &idev_no) ? FAILF("MOCK_DOMAIN_FLAGS(NO_DIRTY)") : 0;
	if (!rc) {
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_ADOPT_FD,
				.iommufd = fd);

		ctx = iommudirty_ctx_new(&o);
		rc = ctx ? 0 : FAILF("ctx_new(ADOPT_FD): %s", strerror(errno));
	}
	R("mock_devices_for_probe", rc);
	if (!rc) {
		caps_and_probe(fd, ctx, idev_dirty, false);
		caps_and_probe(fd, ctx, idev_no, true);
	}
	iommudirty_ctx_free(ctx);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	kresult("boot1", "dev_iommu_present", access("/dev/iommu", R_OK | W_OK) ? -1 : 0,
		"no /dev/iommu");
	run_traps("boot1");
	run_lib_tests("boot1");
	run_probe_tests();
	return 0;
}
