/*
 * JUnit XML for `vpcfw test --junit` in the shape GitHub Actions, GitLab
 * and Jenkins display: <testsuites> holding one <testsuite> for the
 * expectations file, one <testcase> per expanded flow; a failure (or, for
 * a disagreement between vpcfw's offline verdict and real traffic, a
 * failure of type "vpcfw-bug"; for a probe that could not run, an error)
 * carries the explanation. Everything written is XML-escaped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "expect.h"

/* XML 1.0 has no way to carry control characters other than these. */
static const char *const xml_escapes[128] = {
    ['<'] = "&lt;",    ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;",
    ['\''] = "&apos;", ['\n'] = "\n",  ['\t'] = "\t",
};

static void junit_escape(FILE *out, const char *s)
{
	escape_put(out, s, xml_escapes, "?");
}

static void write_case(FILE *out, const char *suite, const struct junit_case *c)
{
	fputs("    <testcase classname=\"", out);
	junit_escape(out, suite);
	fputs("\" name=\"", out);
	junit_escape(out, c->name);
	fprintf(out, "\" time=\"%.3f\"", c->seconds);
	if (c->outcome == EXPECT_PASS) {
		fputs("/>\n", out);
		return;
	}
	const char *tag = c->outcome == EXPECT_ERROR ? "error" : "failure";
	const char *type = c->type			   ? c->type
			   : c->outcome == EXPECT_DISAGREE ? "vpcfw-bug"
			   : c->outcome == EXPECT_ERROR	   ? "probe-error"
							   : "expectation-not-met";
	fprintf(out, ">\n      <%s type=\"%s\" message=\"", tag, type);
	junit_escape(out, c->message);
	fputs("\">", out);
	junit_escape(out, c->text);
	fprintf(out, "</%s>\n    </testcase>\n", tag);
}

int junit_write(const char *out_path, const char *suite, const struct junit_case *c, size_t n)
{
	size_t failures = 0, errors = 0;
	double total = 0;
	for (size_t i = 0; i < n; i++) {
		failures += c[i].outcome == EXPECT_FAIL || c[i].outcome == EXPECT_DISAGREE;
		errors += c[i].outcome == EXPECT_ERROR;
		total += c[i].seconds;
	}
	FILE *out = fopen(out_path, "w");
	if (!out)
		return -errno;
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out, "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\">\n", n, failures,
		errors);
	fputs("  <testsuite name=\"", out);
	junit_escape(out, suite);
	fprintf(out,
		"\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\">\n",
		n, failures, errors, total);
	for (size_t i = 0; i < n; i++)
		write_case(out, suite, &c[i]);
	fputs("  </testsuite>\n</testsuites>\n", out);
	int bad = ferror(out);
	if (fclose(out) != 0 || bad)
		return -EIO;
	return 0;
}
