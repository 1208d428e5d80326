/*
 * libFuzzer harness for `vpcfw test`'s expectations files (tools/expect.c,
 * selector.c): any bytes, as YAML or JSON, must load into items or errors
 * that each name file, line and key, never a crash, a leak or undefined
 * behaviour; what loads is then expanded against a small lab (names,
 * selectors, globs), which must give flows or errors, never both empty
 * and silent. Built with -DVPCFW_FUZZ=ON (tests/fuzz/CMakeLists.txt); run
 * by .ci/fuzz with the seeds in tests/fuzz/corpus/fuzz_expect/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "diag.h"
#include "expect.h"
#include "load.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two subnets, three ENIs with Name tags, two groups: enough for names,
 * subnet:/sg: selectors and globs to match something. */
static const char lab_json[] =
    "{\"lab\":\"fz\",\"vpcs\":[{\"name\":\"v\",\"cidr\":\"10.0.0.0/16\","
    "\"subnets\":[{\"name\":\"a\",\"cidr\":\"10.0.1.0/24\"},{\"name\":\"b\",\"cidr\":"
    "\"10.0.2.0/24\"}],"
    "\"security_groups\":[{\"name\":\"web\",\"ingress\":[{\"proto\":\"tcp\",\"ports\":\"80\","
    "\"from\":\"0.0.0.0/0\"}],\"egress\":[{\"proto\":\"all\",\"to\":\"0.0.0.0/0\"}]},"
    "{\"name\":\"db\",\"ingress\":[{\"proto\":\"tcp\",\"ports\":\"5432\",\"from\":\"web\"}],"
    "\"egress\":[]}],"
    "\"enis\":[{\"name\":\"web-1\",\"subnet\":\"a\",\"ip\":\"10.0.1.10\",\"groups\":[\"web\"]},"
    "{\"name\":\"web-2\",\"subnet\":\"a\",\"ip\":\"10.0.1.11\",\"groups\":[\"web\"]},"
    "{\"name\":\"db-1\",\"subnet\":\"b\",\"ip\":\"10.0.2.20\",\"groups\":[\"db\"]}]}]}";

static struct lab *the_lab(void)
{
	static struct lab *lab;
	struct lab_load_opts o;
	struct diag_list d;

	if (lab)
		return lab;
	lab_load_opts_init(&o);
	diag_init(&d);
	CHECK(lab_load_buffer("fz.json", lab_json, sizeof(lab_json) - 1, &o, &lab, &d) == 0);
	diag_free(&d);
	return lab;
}

/* expect_load reads a path: the input as a memory file. */
static int as_file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("expect.yaml", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expect_errors e = {0};
	struct expect_file f;
	struct expect_flow *flows = NULL;
	size_t n = 0;
	char path[64];
	int fd = as_file(data, size, path, sizeof(path));

	if (fd < 0)
		return 0;
	if (expect_load(path, &f, &e) != 0) {
		CHECK(e.n > 0 && f.n == 0 && !f.items);
		goto out;
	}
	CHECK(e.n == 0);
	for (size_t i = 0; i < f.n; i++) {
		const struct expect_item *it = &f.items[i];

		CHECK(it->from && it->to && it->proto >= 0 && it->proto <= 255);
		CHECK(it->port >= -1 && it->port <= 65535 && it->timeout_ms > 0);
	}
	if (expect_expand(the_lab(), &f, &flows, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			CHECK(flows[i].item < f.n && flows[i].from && flows[i].to);
	} else {
		CHECK(e.n > 0);
	}
	expect_flows_free(flows, n);
	expect_file_free(&f);
out:
	expect_errors_free(&e);
	close(fd);
	return 0;
}
