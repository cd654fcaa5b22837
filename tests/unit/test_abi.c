/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ABI is exactly the documented API: the functions the header marks
 * IOMMUDIRTY_API, the version script's global list and the dynamic symbols
 * the shared library exports are one and the same set, each symbol in the
 * version node its doc comment's "Since:" names, and every public
 * declaration has a doc comment saying what it returns, its thread-safety
 * and since when. The simulated kernel's calls live in a node of their own
 * (IOMMUDIRTY_SIM_0.2, src/libiommudirty_sim.map); those 0.1 had are also
 * still exported at IOMMUDIRTY_0.1 for binaries linked against 0.1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>

#include "iommudirty.h"

#define MAX_SYMS 256

struct symset {
	char *name[MAX_SYMS];
	int n;
};

static void add(struct symset *s, const char *name, size_t len)
{
	assert_true(s->n < MAX_SYMS);
	s->name[s->n++] = strndup(name, len);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s not set (run through ctest)", name);
	return v;
}

/* Public functions of the header; each must follow a doc comment. */
static const char SIM_PREFIX[] = "iommudirty_sim_";
static const char SIM_NODE[] = "SIM_0.2";

static void header_syms(struct symset *s, struct symset *compat)
{
	char path[4096];
	char *text, *p;

	snprintf(path, sizeof(path), "%s/include/iommudirty.h", env("IOMMUDIRTY_SRC"));
	text = slurp(path);
	for (p = strstr(text, "\nIOMMUDIRTY_API "); p; p = strstr(p + 1, "\nIOMMUDIRTY_API ")) {
		char *paren = strchr(p, '('), *q = paren, *doc_end, *doc;

		while (q > p && (q[-1] == '_' || (q[-1] >= 'a' && q[-1] <= 'z') ||
				 (q[-1] >= '0' && q[-1] <= '9')))
			q--;
		add(s, q, (size_t)(paren - q));
		/* The text right before the declaration is its doc comment. */
		doc_end = p;
		while (doc_end > text && (doc_end[-1] == '\n' || doc_end[-1] == ' '))
			doc_end--;
		if (doc_end - text < 2 || strncmp(doc_end - 2, "*/", 2))
			fail_msg("%s: no doc comment", s->name[s->n - 1]);
		for (doc = doc_end - 2; doc > text && strncmp(doc, "/**", 3); doc--)
			;
		{
			char *block = strndup(doc, (size_t)(doc_end - doc));

			if (!strstr(block, s->name[s->n - 1]))
				fail_msg("%s: doc comment does not name it", s->name[s->n - 1]);
			char *since = NULL, *v;

			for (v = strstr(block, "Since: "); v; v = strstr(v + 1, "Since: "))
				since = v + 7;
			if (!since)
				fail_msg("%s: doc comment has no Since:", s->name[s->n - 1]);
			/* Compared as name@version with the map and the .so. */
			{
				char *named;
				const char *node = since;
				size_t vl = strspn(since, "0123456789.");

				if (vl && since[vl - 1] == '.')
					vl--;
				if (!strncmp(s->name[s->n - 1], SIM_PREFIX, sizeof(SIM_PREFIX) - 1)) {
					/* The sim's node; a 0.1 call keeps its old version too. */
					if (vl == 3 && !strncmp(since, "0.1", 3))
						add(compat, s->name[s->n - 1], strlen(s->name[s->n - 1]));
					node = SIM_NODE;
					vl = strlen(SIM_NODE);
				}
				if (asprintf(&named, "%s@%.*s", s->name[s->n - 1], (int)vl,
					     node) < 0)
					fail_msg("no memory");
				free(s->name[s->n - 1]);
				s->name[s->n - 1] = named;
			}
			if (!strstr(block, "hread"))
				fail_msg("%s: doc comment says nothing of thread-safety",
					 s->name[s->n - 1]);
			if (strncmp(q - 5, "void ", 5) && strncmp(q - 6, "void\n", 6) &&
			    !strstr(block, "Return"))
				fail_msg("%s: doc comment does not say what it returns",
					 s->name[s->n - 1]);
			free(block);
		}
	}
	free(text);
}

static void map_syms(struct symset *s, const char *file)
{
	char path[4096];
	char *text, *p, *end;

	snprintf(path, sizeof(path), "%s/src/%s", env("IOMMUDIRTY_SRC"), file);
	text = slurp(path);
	/* Comments may name nodes and options: blank them out. */
	for (p = strstr(text, "/*"); p; p = strstr(p, "/*")) {
		char *c = strstr(p, "*/");

		assert_non_null(c);
		memset(p, ' ', (size_t)(c + 2 - p));
	}
	/* Each node "IOMMUDIRTY_x.y { global: names; [local: *;] } ..." */
	for (p = strstr(text, "IOMMUDIRTY_"); p; p = strstr(end, "IOMMUDIRTY_")) {
		size_t vl = strcspn(p + 11, " {\n\t");
		char *body = strchr(p, '{'), *close_ = body ? strchr(body, '}') : NULL;
		char *q;

		assert_non_null(close_);
		end = close_ + 1;
		for (q = strstr(body, "iommudirty_"); q && q < close_;
		     q = strstr(q + 1, "iommudirty_")) {
			size_t len = strcspn(q, ";");
			char *named;

			if (asprintf(&named, "%.*s@%.*s", (int)len, q, (int)vl, p + 11) < 0)
				fail_msg("no memory");
			add(s, named, strlen(named));
			free(named);
			q += len;
		}
		/* The parent node named after the closing brace is no node. */
		if (*end == ' ')
			end += strcspn(end, ";");
	}
	free(text);
}

static void so_syms(struct symset *s, struct symset *compat)
{
	char cmd[4200], line[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s/libiommudirty.so'",
		 env("IOMMUDIRTY_BUILD"));
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, ' ');

		if (!name)
			continue;
		name++;
		name[strcspn(name, "\n")] = 0;
		/* The version node itself is a defined absolute symbol. */
		if (!strncmp(name, "IOMMUDIRTY_", 11))
			continue;
		{
			/* name@@IOMMUDIRTY_x.y (default) or name@IOMMUDIRTY_x.y */
			char *at = strchr(name, '@'), *named;
			char *ver = at ? strstr(at, "IOMMUDIRTY_") : NULL;

			if (!ver)
				fail_msg("%s: exported without a symbol version", name);
			if (at[1] != '@') {
				/* name@VER: an old version kept for old binaries. */
				if (strcmp(ver, "IOMMUDIRTY_0.1"))
					fail_msg("%s: an old version other than 0.1", name);
				add(compat, name, (size_t)(at - name));
				continue;
			}
			if (asprintf(&named, "%.*s@%s", (int)(at - name), name, ver + 11) < 0)
				fail_msg("no memory");
			add(s, named, strlen(named));
			free(named);
		}
	}
	assert_int_equal(pclose(f), 0);
}

static void expect_same(struct symset *a, const char *an, struct symset *b,
			const char *bn)
{
	qsort(a->name, (size_t)a->n, sizeof(char *), cmp);
	qsort(b->name, (size_t)b->n, sizeof(char *), cmp);
	for (int i = 0, j = 0; i < a->n || j < b->n;) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->name[i], b->name[j]);

		if (c < 0)
			fail_msg("%s is in %s but not in %s", a->name[i], an, bn);
		if (c > 0)
			fail_msg("%s is in %s but not in %s", b->name[j], bn, an);
		i++;
		j++;
	}
}

static void test_exports_are_the_documented_api(void **state)
{
	struct symset hdr = { 0 }, map = { 0 }, so = { 0 };
	struct symset hdr_compat = { 0 }, so_compat = { 0 };

	header_syms(&hdr, &hdr_compat);
	map_syms(&map, "libiommudirty.map");
	map_syms(&map, "libiommudirty_sim.map");
	so_syms(&so, &so_compat);
	assert_true(hdr.n >= 40);
	assert_true(hdr_compat.n >= 10);
	expect_same(&hdr, "the header", &map, "the version scripts");
	expect_same(&hdr, "the header", &so, "libiommudirty.so's exports");
	expect_same(&hdr_compat, "the header's 0.1 sim calls", &so_compat,
		    "libiommudirty.so's IOMMUDIRTY_0.1 compat exports");
	for (int i = 0; i < hdr_compat.n; i++)
		free(hdr_compat.name[i]);
	for (int i = 0; i < so_compat.n; i++)
		free(so_compat.name[i]);
	for (int i = 0; i < hdr.n; i++)
		free(hdr.name[i]);
	for (int i = 0; i < map.n; i++)
		free(map.name[i]);
	for (int i = 0; i < so.n; i++)
		free(so.name[i]);
}

/* A binary linked against 0.1 resolves the sim at IOMMUDIRTY_0.1: the old
 * version must be the same working call, not just a name. */
static void test_sim_calls_resolve_at_their_0_1_version(void **state)
{
	char path[4096];
	void *so;
	struct iommudirty_sim *(*sim_new)(const struct iommudirty_sim_opts *);
	void (*sim_free)(struct iommudirty_sim *);
	int (*add_iommu)(struct iommudirty_sim *, const struct iommudirty_sim_iommu_opts *);
	struct iommudirty_sim *sim;

	(void)state;
	snprintf(path, sizeof(path), "%s/libiommudirty.so", env("IOMMUDIRTY_BUILD"));
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(so);
	*(void **)&sim_new = dlvsym(so, "iommudirty_sim_new", "IOMMUDIRTY_0.1");
	*(void **)&sim_free = dlvsym(so, "iommudirty_sim_free", "IOMMUDIRTY_0.1");
	*(void **)&add_iommu = dlvsym(so, "iommudirty_sim_add_iommu", "IOMMUDIRTY_0.1");
	assert_non_null(sim_new);
	assert_non_null(sim_free);
	assert_non_null(add_iommu);
	/* Not an alias of some other call: the default version is a
	 * different entry point, and the old one really works. */
	assert_ptr_not_equal(dlvsym(so, "iommudirty_sim_new", "IOMMUDIRTY_SIM_0.2"),
			     *(void **)&sim_new);
	assert_null(dlvsym(so, "iommudirty_tracker_new", "IOMMUDIRTY_SIM_0.2"));
	sim = sim_new(NULL);
	assert_non_null(sim);
	assert_int_equal(add_iommu(sim, NULL), 0);
	assert_int_equal(add_iommu(NULL, NULL), -EINVAL);
	sim_free(sim);
	dlclose(so);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exports_are_the_documented_api),
		cmocka_unit_test(test_sim_calls_resolve_at_their_0_1_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
