/*
 * daemon/reloader against loads that hang, as a lab on a hung network file
 * system would (issue 14, item 3): the loads here block reading a pipe
 * until the test writes to it, the event loop is the daemon's own. Proves:
 * a load that takes longer than the timeout is given up and reported while
 * the loop goes on, and the requests queued behind it then run; a request
 * marked first (root's) overtakes the ones waiting; once RELOADER_STUCK
 * given-up loads are still blocked, a new one is refused rather than piling
 * up threads, and once they come unstuck they clean up after themselves and
 * loads run again; requests pending at shutdown are answered "cancelled".
 * Needs no privileges; under ASan a thread that did not clean up is a leak.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "loop.h"
#include "reloader.h"

static int fails, checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		bool ok_ = (cond);                                                                 \
		checks++;                                                                          \
		if (!ok_)                                                                          \
			fails++;                                                                   \
		printf(ok_ ? "ok   " : "FAIL ");                                                   \
		printf(__VA_ARGS__);                                                               \
		putchar('\n');                                                                     \
	} while (0)

static int stuck_pipe[2];
static struct loop *loop;
static struct reloader *rel;
static char order[512]; /* "name=rc " per request answered, in order */
static char last_err[1024];
static int step, ticks_since;

/* The loader's thread: "block*" waits for a byte on the pipe. */
static int load(const char *path, struct lab **out, struct diag_list *diags)
{
	char c;

	(void)diags;
	*out = NULL;
	if (path && !strncmp(path, "block", 5)) {
		if (read(stuck_pipe[0], &c, 1) != 1)
			return -EIO;
		return -EIO;
	}
	return 0;
}

static const char *source(void *arg)
{
	(void)arg;
	return "source";
}

static void begin(void *arg, const char *path)
{
	(void)arg;
	(void)path;
}

static int finish(void *arg, const char *path, int rc, struct lab *next,
		  const struct diag_list *diags, char *err, size_t errlen)
{
	(void)arg;
	(void)path;
	(void)next;
	(void)diags;
	(void)err;
	(void)errlen;
	return rc;
}

static void ask(const char *name, bool first);

static void done(void *ctx, int rc, const struct diag_list *diags, const char *err)
{
	const char *name = ctx;
	size_t n = strlen(order);

	(void)diags;
	snprintf(order + n, sizeof(order) - n, "%s=%d ", name, rc);
	snprintf(last_err, sizeof(last_err), "%s", err ? err : "");
	if (!strcmp(name, "block-A"))
		CHECK(rc == -ETIMEDOUT &&
			  strstr(err, "block-A: loading the lab took more than 1 s"),
		      "a load stuck past the timeout is given up and said so: %s", err);
	if (!strcmp(name, "ok-B")) {
		CHECK(!strcmp(order, "ok-C=0 block-A=-110 ok-B=0 "),
		      "root's request overtook those waiting, and those behind the stuck load "
		      "ran once it was given up: %s",
		      order);
		ask("block-D", false);
		ask("block-E", false);
		ask("block-F", false);
		ask("ok-G", false);
	}
	if (!strcmp(name, "ok-G")) {
		CHECK(rc == -EDEADLK && strstr(err, "still blocked"),
		      "with %d given-up loads still blocked a new one is refused: %s",
		      RELOADER_STUCK, err);
		/* Unstick the four: each takes one byte. */
		CHECK(write(stuck_pipe[1], "xxxx", 4) == 4, "the stuck loads are let go");
		step = 1;
	}
	if (!strcmp(name, "ok-H")) {
		CHECK(rc == 0, "once they have cleaned up, loads run again (%d)", rc);
		loop_stop(loop);
	}
}

static void ask(const char *name, bool first)
{
	if (reloader_request(rel, name, first, done, (void *)name) < 0)
		CHECK(0, "request %s queued", name);
}

/* Once a second: give the unstuck threads a second to end. */
static void tick(void *arg)
{
	(void)arg;
	if (step == 1 && ++ticks_since == 2) {
		step = 2;
		ask("ok-H", false);
	}
}

int main(void)
{
	struct reloader_ops ops = {
	    .source = source, .begin = begin, .load = load, .finish = finish, .timeout = 1};
	char err[256];
	static char cancelled[sizeof(order)];

	setvbuf(stdout, NULL, _IONBF, 0);
	alarm(60);
	if (pipe(stuck_pipe) < 0 || loop_create(NULL, &loop, err, sizeof(err)) < 0 ||
	    reloader_create(loop, &ops, &rel) < 0) {
		printf("FAIL set-up: %s\n", err);
		return 1;
	}
	loop_set_tick(loop, tick, NULL);
	ask("block-A", false);
	ask("ok-B", false);
	ask("ok-C", true);
	CHECK(loop_run(loop) == LOOP_EXIT, "the loop ran throughout");
	CHECK(strstr(order, "block-D=-110 block-E=-110 block-F=-110 ok-G=-35 ok-H=0") != NULL,
	      "every request answered once, in order: %s", order);

	order[0] = '\0';
	ask("ok-I", false);
	reloader_destroy(rel);
	snprintf(cancelled, sizeof(cancelled), "%s", order);
	CHECK(!strcmp(cancelled, "ok-I=-125 ") && strstr(last_err, "stopping"),
	      "a request pending at shutdown is answered: %s (%s)", cancelled, last_err);
	loop_destroy(loop);
	close(stuck_pipe[0]);
	close(stuck_pipe[1]);
	printf("%d of %d checks failed\n", fails, checks);
	return fails ? 1 : 0;
}
