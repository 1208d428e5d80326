/*
 * vpcfwd's stderr log (see log.h). Each message is formatted into one
 * buffer and written with a single write(2) so lines from the daemon never
 * interleave with each other in the journal or a terminal. Process-wide
 * state is fine here: daemon/ owns the side effects, and there is one
 * stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_prog = "vpcfwd";
static enum log_level log_max = LOG_LVL_INFO;
static int log_journal;

static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *progname, enum log_level max_level)
{
	if (progname) {
		const char *slash = strrchr(progname, '/');
		log_prog = slash ? slash + 1 : progname;
	}
	log_max = max_level;
	log_journal = stderr_is_journal();
}

void log_set_level(enum log_level max_level)
{
	log_max = max_level;
}

static const char *level_name(enum log_level level)
{
	static const char *const names[] = {
	    [LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning", [LOG_LVL_INFO] = "info"};

	return (unsigned)level < sizeof(names) / sizeof(names[0]) && names[level] ? names[level]
										  : "debug";
}

/* Prefix, message and newline in one buffer, one write(2): the stack
 * buffer for ordinary lines, the heap for long ones (the counters' JSON). */
void log_msg(enum log_level level, const char *fmt, ...)
{
	char stackbuf[1024];
	char prefix[64];
	char *buf = stackbuf;
	va_list ap;
	int n, m;

	if (level > log_max)
		return;
	if (log_journal)
		n = snprintf(prefix, sizeof(prefix), "<%d>", (int)level);
	else
		n = snprintf(prefix, sizeof(prefix), "%s: %s: ", log_prog, level_name(level));
	if (n < 0 || (size_t)n >= sizeof(prefix))
		return;
	va_start(ap, fmt);
	m = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t need = (size_t)n + (size_t)m + 2;
	if (need > sizeof(stackbuf)) {
		buf = malloc(need);
		if (!buf)
			return;
	}
	memcpy(buf, prefix, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(buf + n, need - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (size_t)m;
	if (buf[len - 1] != '\n')
		buf[len++] = '\n';
	/* A short write to stderr has nowhere better to be reported. */
	ssize_t w = write(STDERR_FILENO, buf, len);
	(void)w;
	if (buf != stackbuf)
		free(buf);
}
