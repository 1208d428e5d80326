/*
 * The names of a lab's run files and namespaces (labnames.h). Pure: string
 * formatting from the lab model, no I/O.
 */
#include "labnames.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

static int path_into(char *buf, size_t len, int n)
{
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int topo_state_dir(const char *lab, char *buf, size_t len)
{
	return path_into(buf, len, snprintf(buf, len, "%s/%s", TOPOLOGY_RUN_DIR, lab));
}

int topo_state_path(const char *lab, char *buf, size_t len)
{
	return path_into(
	    buf, len, snprintf(buf, len, "%s/%s/%s", TOPOLOGY_RUN_DIR, lab, TOPOLOGY_STATE_FILE));
}

int control_socket_path(const char *lab, char *buf, size_t len)
{
	return path_into(
	    buf, len, snprintf(buf, len, "%s/%s/%s", TOPOLOGY_RUN_DIR, lab, CONTROL_SOCKET_NAME));
}

bool topology_lab_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > TOPOLOGY_LAB_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static bool label_safe(const char *s, size_t max)
{
	size_t n = 0;

	if (!s || !*s)
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return false;
	return n <= max;
}

/* Two ENIs of one instance inherit its Name tag: the one at the lowest
 * device index keeps it (contract 3: the instance means device index 0).
 * A Name shared by different instances (an Auto Scaling group) names
 * nobody: each of them falls back to its ENI id. */
static bool eni_keeps_name(const struct lab *lab, int32_t i)
{
	const struct eni *e = &lab->enis[i];

	for (size_t j = 0; j < lab->n_enis; j++) {
		const struct eni *o = &lab->enis[j];

		if ((int32_t)j == i || !o->name || strcmp(o->name, e->name))
			continue;
		if (!e->instance_id || !o->instance_id || strcmp(e->instance_id, o->instance_id))
			return false;
		if (o->device_index < e->device_index ||
		    (o->device_index == e->device_index && (int32_t)j < i))
			return false;
	}
	return true;
}

int topology_eni_netns(const struct lab *lab, int32_t eni, char *buf, size_t len)
{
	const struct eni *e;
	int n;

	if (eni < 0 || (size_t)eni >= lab->n_enis)
		return -EINVAL;
	e = &lab->enis[eni];
	if (label_safe(e->name, TOPOLOGY_LABEL_MAX) && eni_keeps_name(lab, eni))
		n = snprintf(buf, len, TOPOLOGY_NS_PREFIX "%s", e->name);
	else if (label_safe(e->id, NETNS_NAME_MAX - sizeof(TOPOLOGY_NS_PREFIX)))
		n = snprintf(buf, len, TOPOLOGY_NS_PREFIX "%s", e->id);
	else
		n = snprintf(buf, len, TOPOLOGY_NS_PREFIX "eni%d", (int)eni);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

int topology_outside_netns(const struct lab *lab, int32_t outside, char *buf, size_t len)
{
	const char *name;
	int n;

	if (outside < 0 || (size_t)outside >= lab->n_outside)
		return -EINVAL;
	name = lab->outside[outside].name;
	if (label_safe(name, TOPOLOGY_LABEL_MAX))
		n = snprintf(buf, len, TOPOLOGY_NS_PREFIX "%s", name);
	else
		n = snprintf(buf, len, TOPOLOGY_NS_PREFIX "outside%d", (int)outside);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}
