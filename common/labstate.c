/*
 * The state file's reader and the name lookup of `vpcfw exec` (labstate.h).
 * Reads only: a file being written by a live daemon is read as far as its
 * last complete line.
 */
#include "labstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsenter.h"

#define STATE_MAX_BYTES (1 << 20)

void topo_state_escape(const char *s, char *out, size_t len)
{
	size_t o = 0;

	if (!s || !*s)
		s = "-";
	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c == 0x7f)
			o += (size_t)snprintf(out + o, len - o, "%%%02X", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static void unescape(char *s)
{
	char *w = s;
	unsigned int c;

	for (; *s; s++) {
		if (*s == '%' && sscanf(s + 1, "%2X", &c) == 1 && c) {
			*w++ = (char)c;
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static int parse_port(char *line, struct topo_state_port *p)
{
	char eni[64], inst[64], name[256];

	if (sscanf(line, "port %15s %63s %15s %63s %63s %d %255s", p->ifname, p->netns, p->kind,
		   eni, inst, &p->device_index, name) != 7)
		return -EINVAL;
	unescape(eni);
	unescape(inst);
	unescape(name);
	snprintf(p->eni_id, sizeof(p->eni_id), "%s", eni);
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", inst);
	snprintf(p->name, sizeof(p->name), "%s", name);
	return 0;
}

static int parse_line(char *line, struct topo_state *st)
{
	int pid;

	if (!strncmp(line, "owner ", 6)) {
		if (sscanf(line, "owner %d %llu", &pid, &st->start) != 2)
			return -EINVAL;
		st->pid = pid;
	} else if (!strncmp(line, "router ", 7)) {
		if (sscanf(line, "router %63s", st->router) != 1)
			return -EINVAL;
	} else if (!strncmp(line, "port ", 5)) {
		struct topo_state_port *n =
		    realloc(st->ports, (st->n_ports + 1) * sizeof(*st->ports));

		if (!n)
			return -ENOMEM;
		st->ports = n;
		memset(&n[st->n_ports], 0, sizeof(*n));
		if (parse_port(line, &n[st->n_ports]))
			return -EINVAL;
		st->n_ports++;
	} else if (strcmp(line, TOPO_STATE_MAGIC) && line[0]) {
		return -EINVAL;
	}
	return 0;
}

int topo_state_read(int fd, struct topo_state *st)
{
	char *buf = malloc(STATE_MAX_BYTES + 1), *line, *save = NULL;
	ssize_t n;
	size_t len = 0;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!buf)
		return -ENOMEM;
	while (len < STATE_MAX_BYTES &&
	       (n = pread(fd, buf + len, STATE_MAX_BYTES - len, (off_t)len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len && buf[len - 1] != '\n') {
		char *nl = strrchr(buf, '\n');

		*(nl ? nl + 1 : buf) = '\0';
	}
	for (line = strtok_r(buf, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save))
		ret = parse_line(line, st);
	free(buf);
	return ret;
}

void topo_state_free(struct topo_state *st)
{
	free(st->ports);
	st->ports = NULL;
}

static bool port_matches(const struct topo_state_port *p, const char *name)
{
	const char *label = p->netns + strlen(TOPOLOGY_NS_PREFIX);

	return !strcmp(label, name) || !strcmp(p->eni_id, name) || !strcmp(p->name, name) ||
	       !strcmp(p->instance_id, name);
}

/* Best match in one lab: an instance id means its lowest device index. */
static const struct topo_state_port *lab_match(const struct topo_state *st, const char *name)
{
	const struct topo_state_port *best = NULL;

	for (size_t i = 0; i < st->n_ports; i++) {
		const struct topo_state_port *p = &st->ports[i];

		if (!port_matches(p, name))
			continue;
		if (!best || p->device_index < best->device_index)
			best = p;
	}
	return best;
}

static int lookup_in_lab(const char *lab, const char *name, char *buf, size_t len, int *found)
{
	char path[300];
	const struct topo_state_port *p;
	struct topo_state st;
	int fd = -1, ret;

	if (topo_state_path(lab, path, sizeof(path)))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = topo_state_read(fd, &st);
	close(fd);
	if (!ret) {
		p = lab_match(&st, name);
		if (p && netns_exists(p->netns)) {
			if (*found && strcmp(buf, p->netns))
				ret = -EEXIST;
			else
				snprintf(buf, len, "%s", p->netns);
			++*found;
		}
	}
	topo_state_free(&st);
	return ret == -EEXIST ? ret : 0;
}

int topology_lookup_netns(const char *lab, const char *name, char *buf, size_t len)
{
	struct dirent *de;
	DIR *d;
	int found = 0, ret = 0;

	if (lab) {
		lookup_in_lab(lab, name, buf, len, &found);
		return found ? 0 : -ENOENT;
	}
	d = opendir(TOPOLOGY_RUN_DIR);
	if (!d)
		return -ENOENT;
	while ((de = readdir(d)) && !ret)
		if (de->d_name[0] != '.')
			ret = lookup_in_lab(de->d_name, name, buf, len, &found);
	closedir(d);
	if (ret)
		return ret;
	return found ? 0 : -ENOENT;
}
