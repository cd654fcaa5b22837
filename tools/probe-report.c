/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe: a device's verdict from its report, and the report as
 * text or JSON.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "iommudirty.h"
#include "uapi.h"
#include "probe.h"

/* ---- verdict ------------------------------------------------------------ */

void decide(struct report *r)
{
	bool iommu_ok = r->have_caps && r->caps.dirty == 1;
	bool type1_ok = r->type1v2 == 1 && r->viable == 1 && r->type1_dirty == 1;

	if (iommu_ok || r->dma_log == 1)
		r->verdict = V_PRECISE;
	else if (type1_ok)
		r->verdict = V_TYPE1;
	else
		r->verdict = V_NO;
}

bool can_migrate_precise(const struct report *r)
{
	return r->verdict == V_PRECISE && r->mig == 1;
}

static const char *yes_no(int v)
{
	return v > 0 ? "yes" : v == 0 ? "no" : "unknown";
}

static void verdict_text(const struct report *r, char *buf, size_t len)
{
	size_t n = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	switch (r->verdict) {
	case V_PRECISE:
		if (r->have_caps && r->caps.dirty == 1)
			ADD("live migration with precise IOMMU dirty tracking");
		else
			ADD("live migration with precise dirty tracking by the device's DMA logging");
		if (r->dma_log == 1 && r->have_caps && r->caps.dirty == 1)
			ADD(" (device DMA logging also available)");
		break;
	case V_TYPE1:
		ADD("only via type1: every mapped page always reported dirty");
		break;
	case V_NO:
		ADD("no: ");
		if (r->have_caps)
			for (uint32_t i = 0; i < r->caps.nr_reasons; i++)
				ADD("%s; ", iommudirty_reason_str(r->caps.reasons[i]));
		for (int i = 0; i < r->nnotes; i++)
			ADD("%s; ", r->notes[i]);
		if (n >= 2 && n < len && !strcmp(buf + n - 2, "; "))
			buf[n -= 2] = 0;
		break;
	}
	if (r->verdict != V_NO && r->mig == 0)
		ADD("; but the device itself has no VFIO migration support");
	else if (r->verdict != V_NO && r->mig < 0)
		ADD("; the device's VFIO migration support is unknown");
	/* An mlx5 VF shows no VFIO migration until its port function allows
	 * it, and the driver reads that at bind. */
	if (r->dl_asked && !r->dl_err && r->dl.state == 0 && r->mig != 1)
		ADD("%sdevlink migratable is off: enable devlink migratable, then rebind",
		    n >= 2 && n < len && !strcmp(buf + n - 2, ": ") ? "" : "; ");
#undef ADD
}

/* ---- output ------------------------------------------------------------- */

void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_tri(int v)
{
	fputs(v > 0 ? "true" : v == 0 ? "false" : "null", stdout);
}

static const char *verdict_key(enum verdict v)
{
	return v == V_PRECISE ? "precise" : v == V_TYPE1 ? "type1" : "no";
}

static void print_caps_json(const struct iommudirty_caps *c, uint32_t hw_type)
{
	printf("{\"vendor\": ");
	json_str(iommudirty_vendor_str(c->vendor));
	printf(", \"hw_info_type\": %u, \"dirty_tracking\": ", hw_type);
	json_tri(c->dirty);
	printf(", \"registers_say\": ");
	json_tri(c->decoded_dirty);
	printf(", \"pgsize_bitmap\": %llu, \"constraints\": %u, \"reasons\": [",
	       (unsigned long long)c->pgsize_bitmap, c->constraints);
	for (uint32_t i = 0; i < c->nr_reasons; i++) {
		printf("%s{\"code\": %u, \"text\": ", i ? ", " : "", c->reasons[i]);
		json_str(iommudirty_reason_str(c->reasons[i]));
		putchar('}');
	}
	printf("]}");
}

/* {"migratable": true|false|null, "code": reason, "text": its text,
 *  "line": the human line, "port", "hint", "message": string or null} */
void print_devlink_json(const struct report *r)
{
	char line[1024], where[160];

	devlink_text(r, line, sizeof(line));
	dl_where(r, where, sizeof(where));
	printf("{\"migratable\": ");
	json_tri(r->dl_err ? -1 : r->dl.state);
	printf(", \"code\": %u, \"text\": ", r->dl_err ? 0 : r->dl.reason);
	json_str(r->dl_err ? "" : iommudirty_reason_str(r->dl.reason));
	printf(", \"line\": ");
	json_str(line);
	printf(", \"port\": ");
	where[0] && !r->dl_err ? json_str(where) : (void)fputs("null", stdout);
	printf(", \"hint\": ");
	r->dl.hint[0] ? json_str(r->dl.hint) : (void)fputs("null", stdout);
	printf(", \"message\": ");
	r->dl.message[0] ? json_str(r->dl.message) : (void)fputs("null", stdout);
	putchar('}');
}

void print_json_report(const struct report *r, bool pci)
{
	char v[2048];

	verdict_text(r, v, sizeof(v));
	printf("    {\"device\": ");
	json_str(r->bdf);
	if (pci) {
		printf(", \"driver\": ");
		json_str(r->driver);
		printf(", \"iommu_group\": ");
		r->group[0] ? json_str(r->group) : (void)fputs("null", stdout);
		printf(", \"cdev\": ");
		r->cdev_path[0] ? json_str(r->cdev_path) : (void)fputs("null", stdout);
		printf(", \"dev_iommu\": %s", r->iommu_node == 1 ? "true" : "false");
		printf(", \"migration\": ");
		json_tri(r->mig);
		printf(", \"migration_flags\": %llu, \"dma_logging\": ",
		       (unsigned long long)r->mig_flags);
		json_tri(r->dma_log);
	}
	printf(", \"iommu\": ");
	if (r->have_caps)
		print_caps_json(&r->caps, r->hw_type);
	else
		fputs("null", stdout);
	if (pci) {
		printf(", \"type1\": {\"container\": %s, \"type1v2\": ",
		       r->container_err == 0 ? "true" : "false");
		json_tri(r->type1v2);
		printf(", \"group_viable\": ");
		json_tri(r->viable);
		printf(", \"dirty_tracking\": ");
		json_tri(r->type1_dirty);
		printf(", \"pgsize_bitmap\": %llu}", (unsigned long long)r->type1_pgsize);
	}
	if (r->dl_asked) {
		printf(", \"devlink\": ");
		print_devlink_json(r);
	}
	printf(", \"notes\": [");
	for (int i = 0; i < r->nnotes; i++) {
		printf("%s", i ? ", " : "");
		json_str(r->notes[i]);
	}
	printf("], \"verdict\": ");
	json_str(verdict_key(r->verdict));
	printf(", \"verdict_text\": ");
	json_str(v);
	printf("}");
}

static void print_caps_human(const struct report *r)
{
	const struct iommudirty_caps *c = &r->caps;

	printf("  IOMMU:              %s (hw_info type %#x), dirty tracking %s",
	       iommudirty_vendor_str(c->vendor), r->hw_type, yes_no(c->dirty));
	if (c->decoded_dirty >= 0)
		printf(" (registers say %s)", yes_no(c->decoded_dirty));
	putchar('\n');
	for (uint32_t i = 0; i < c->nr_reasons; i++)
		printf("    - [%u] %s\n", c->reasons[i], iommudirty_reason_str(c->reasons[i]));
	if (c->pgsize_bitmap)
		printf("    IO page sizes %#llx\n", (unsigned long long)c->pgsize_bitmap);
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY)
		printf("    constraint: second-stage page tables only\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY)
		printf("    constraint: stage-1 only (a nesting parent cannot track)\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_NO_PASID)
		printf("    constraint: no PASID on a tracked domain\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_V1_TABLES)
		printf("    constraint: v1 page tables only\n");
	if (c->constraints & IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT)
		printf("    constraint: no read-only mappings on a nesting parent (erratum 772415)\n");
}

void print_human_report(const struct report *r, bool pci)
{
	char v[2048];

	verdict_text(r, v, sizeof(v));
	if (pci) {
		printf("%s: driver %s, IOMMU group %s\n", r->bdf, r->driver,
		       r->group[0] ? r->group : "none");
		printf("  VFIO cdev:          %s\n", r->cdev_path[0] ? r->cdev_path : "none");
		printf("  iommufd:            %s (%s/iommu)\n",
		       r->iommu_node == 1 ? "yes" : "no", dev_root);
		printf("  migration:          %s", yes_no(r->mig));
		if (r->mig == 1)
			printf(" (STOP_COPY%s%s)",
			       r->mig_flags & UAPI_VFIO_MIGRATION_P2P ? " P2P" : "",
			       r->mig_flags & UAPI_VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
		putchar('\n');
		printf("  device DMA logging: %s\n", yes_no(r->dma_log));
	} else {
		printf("iommufd device %s\n", r->bdf);
	}
	if (r->have_caps)
		print_caps_human(r);
	else
		printf("  IOMMU:              unknown\n");
	if (pci) {
		printf("  type1 container:    %s", r->container_err ? "no" : "yes");
		if (!r->container_err)
			printf(", TYPE1v2 %s, group viable %s, dirty tracking %s",
			       yes_no(r->type1v2), yes_no(r->viable), yes_no(r->type1_dirty));
		putchar('\n');
	}
	if (r->dl_asked) {
		char line[1024];

		devlink_text(r, line, sizeof(line));
		printf("  devlink: %s\n", line);
	}
	for (int i = 0; i < r->nnotes; i++)
		printf("  note: %s\n", r->notes[i]);
	printf("  verdict: %s\n", v);
}
