/*
 * rules/load_tf.c's table of the Terraform resource types vpcfw reads and
 * tf_read_kind, which dispatches a resource by it. The table is sorted by
 * type so that no type stands twice (a second row would never be read, and
 * the order of the rows would start to matter); test_load_tf.c proves what
 * each reader makes of a resource.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "load-tf-private.h"

static void test_table_sorted_once(void **state)
{
	(void)state;
	assert_true(tf_n_kinds > 0);
	for (size_t i = 0; i < tf_n_kinds; i++) {
		assert_non_null(tf_kinds[i].read);
		assert_int_equal(strncmp(tf_kinds[i].type, "aws_", 4), 0);
		if (i > 0 && strcmp(tf_kinds[i - 1].type, tf_kinds[i].type) >= 0)
			fail_msg("%s then %s: the table must be sorted, each type once",
				 tf_kinds[i - 1].type, tf_kinds[i].type);
	}
}

static const struct tf_kind *last_read;

static void record(struct tf_doc *t, const struct tf_res *r, const struct tf_kind *k)
{
	(void)t;
	(void)r;
	last_read = k;
}

static void test_read_kind_dispatch(void **state)
{
	(void)state;
	static const struct tf_kind kinds[] = {
	    {"aws_a", record, 1, NULL, NULL},
	    {"aws_b", record, 2, "x", NULL},
	};
	struct tf_doc t = {0};
	struct tf_res r = {.type = "aws_b"};
	last_read = NULL;
	assert_true(tf_read_kind(&t, &r, kinds, 2));
	assert_ptr_equal(last_read, &kinds[1]);
	r.type = "aws_c";
	last_read = NULL;
	assert_false(tf_read_kind(&t, &r, kinds, 2));
	assert_null(last_read);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_sorted_once),
	    cmocka_unit_test(test_read_kind_dispatch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
