/*
 * libFuzzer harness for the lab loader: any bytes, as a vpcfw lab file,
 * describe-* output or Terraform JSON, must give a lab or errors, never a crash, a leak or
 * undefined behaviour, and never a half-built lab. Built with -DVPCFW_FUZZ=ON
 * (tests/fuzz/CMakeLists.txt) and run by .ci/fuzz from the seeds in
 * tests/fuzz/corpus/fuzz_load/ (lab files, describe-* exports, Terraform plans); by hand:
 *
 *   CC=clang cmake -S . -B build-fuzz -DVPCFW_FUZZ=ON && cmake --build build-fuzz --target fuzz
 *   mkdir -p /tmp/new && build-fuzz/tests/fuzz/fuzz_load -max_len=16384 \
 *       -max_total_time=300 /tmp/new tests/fuzz/corpus/fuzz_load
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lab_load_opts o;
	lab_load_opts_init(&o);
	o.strict = size & 1;
	struct diag_list d;
	diag_init(&d);
	struct lab *lab = NULL;
	/* the name carries a prefix list id, for get-managed-prefix-list-entries */
	int r = lab_load_buffer("fuzz-pl-0123456789abcdef0.json", (const char *)data, size, &o,
				&lab, &d);
	if ((r == 0) != (lab != NULL) || (r != 0 && d.n_errors == 0))
		abort();
	/* every name the lab declares resolves, or is reported ambiguous */
	for (size_t i = 0; lab && i < lab->n_enis; i++) {
		const struct eni *e = &lab->enis[i];
		const char *names[] = {e->id, e->name, e->instance_id, e->instance_name};
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			struct endpoint ep;
			int rr = lab_resolve_endpoint(lab, names[k], &ep);
			if (!names[k] || rr == -EEXIST)
				continue;
			if (rr != 0)
				abort();
			lab_endpoint_addr(lab, &ep, IP_V4);
			lab_endpoint_addr(lab, &ep, IP_V6);
			(void)lab_eni_label(lab, ep.eni);
		}
	}
	lab_free(lab);
	diag_free(&d);
	return 0;
}
