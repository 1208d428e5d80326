/*
 * lab_load: reads a lab file, a directory of JSON files (recursively) or a
 * comma-separated list of them, recognises each document by its top-level
 * keys, hands it to the reader for its kind (load_aws*.c, load_lab*.c,
 * load_tf*.c; kinds not modelled are named once as skipped), then lets
 * load_resolve*.c build and validate the lab. The loader's files form
 * layers, each calling only those below: this file; the resolver; the
 * readers; load_build.c (the model-building calls they share);
 * load_json.c (JSON and diagnostics). The only file I/O of the loader is
 * here: reading the files it is given. All-or-nothing: any error frees
 * everything built.
 */
#include "load.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load-private.h"

#define LAB_FILE_MAX (64u << 20) /* a describe-* export of a large account */

void lab_load_opts_init(struct lab_load_opts *o)
{
	memset(o, 0, sizeof(*o));
}

void lab_free(struct lab *lab)
{
	if (lab)
		arena_destroy(lab->arena);
}

static bool has_key(const json_t *root, const char *key)
{
	return json_object_get(root, key) != NULL;
}

/* Our format: lower-case keys; describe-* output: AWS's capitalised ones. */
static bool is_lab_format(const json_t *root)
{
	static const char *const keys[] = {"vpcs", "lab", "outside", "prefix_lists", "options"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (has_key(root, keys[i]))
			return true;
	return false;
}

/* Every describe-* array vpcfw knows: read, each object by read(), in this
 * order; or, without a reader, skipped (not modelled) and listed once per
 * lab as what, never "not a lab file". */
static const struct {
	const char *key;
	ld_object_fn *read;
	const char *what; /* skipped kinds */
} aws_kinds[] = {
    {"Vpcs", aws_vpc, NULL},
    {"Subnets", aws_subnet, NULL},
    {"SecurityGroups", aws_group, NULL},
    {"NetworkAcls", aws_nacl, NULL},
    {"NetworkInterfaces", aws_network_interface, NULL},
    {"Reservations", aws_reservation, NULL},
    {"RouteTables", aws_route_table, NULL},
    {"PrefixLists", aws_prefix_list, NULL},
    {"InternetGateways", aws_igw, NULL},
    {"NatGateways", aws_nat, NULL},
    {"VpcEndpoints", aws_endpoint, NULL},
    {"VpcPeeringConnections", aws_peering, NULL},
    {"TransitGateways", aws_transit, NULL},
    {"TransitGatewayVpcAttachments", aws_transit_attach, NULL},
    {"TransitGatewayAttachments", aws_tgw_attachment, NULL},
    {"TransitGatewayRouteTables", aws_tgw_route_table, NULL},
    {"TransitGatewayStaticRoutes", aws_tgw_routes, NULL},
    {"TransitGatewayPropagations", aws_tgw_propagations, NULL},
    {"Addresses", aws_address, NULL},
    {"LoadBalancers", aws_elb, NULL},
    {"LoadBalancerDescriptions", aws_elb, NULL},
    {"LoadBalancers", aws_lb, NULL},
    {"Listeners", aws_lb_listener, NULL},
    {"LoadBalancerListeners", aws_lb_listeners, NULL},
    {"TargetGroups", aws_target_group, NULL},
    {"LoadBalancerTargetHealth", aws_target_health, NULL},
    {"LoadBalancerAttributes", aws_lb_attributes, NULL},
    {"DBInstances", aws_db_instance, NULL},
    {"CacheClusters", aws_cache_cluster, NULL},
    {"DomainStatusList", aws_search_domain, NULL},
    {"AvailabilityZones", NULL, "availability zones"},
    {"CustomerGateways", NULL, "customer gateways (VPN)"},
    {"VpnGateways", NULL, "virtual private gateways (VPN)"},
    {"VpnConnections", NULL, "VPN connections"},
    {"TransitGatewayPeeringAttachments", NULL, "transit gateway peering attachments"},
    {"ServiceDetails", NULL, "VPC endpoint services"},
    {"ServiceNames", NULL, "VPC endpoint services"},
    {"EgressOnlyInternetGateways", NULL, "egress-only internet gateways"},
    {"DhcpOptions", NULL, "DHCP options"},
    {"FlowLogs", NULL, "flow logs"},
    {"KeyPairs", NULL, "key pairs"},
    {"Images", NULL, "images"},
    {"Volumes", NULL, "volumes"},
    {"Tags", NULL, "tags"},
    {"ManagedPrefixListEntries", NULL, "prefix list entries without an id"},
};

#define N_AWS_KINDS (sizeof(aws_kinds) / sizeof(aws_kinds[0]))
_Static_assert(N_AWS_KINDS <= 64, "loader.skipped_seen has a bit per kind");

/* Keys the CLI (or an SDK recording) adds around any describe-* output. */
static bool is_envelope_key(const char *k)
{
	return !strcmp(k, "NextToken") || !strcmp(k, "ResponseMetadata") || !strcmp(k, "Marker") ||
	       !strcmp(k, "NextMarker");
}

/* The index of key k in aws_kinds, or -1. */
static int aws_kind(const char *k)
{
	for (size_t i = 0; i < N_AWS_KINDS; i++)
		if (!strcmp(k, aws_kinds[i].key))
			return (int)i;
	return -1;
}

static bool is_aws_key(const char *k)
{
	return aws_kind(k) >= 0 || !strcmp(k, "Entries") || is_envelope_key(k);
}

/* Once per kind and lab, at the first file holding it. */
static void note_skipped(struct loader *l, int kind)
{
	if (l->skipped_seen & (1ull << kind))
		return;
	l->skipped_seen |= 1ull << kind;
	ld_warn(l, aws_kinds[kind].key, "skipped: vpcfw does not model %s", aws_kinds[kind].what);
}

static void load_aws_document(struct loader *l, const json_t *root, const char *name)
{
	size_t known = 0;
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)root, k, v)
	{
		if (is_aws_key(k) && !is_envelope_key(k))
			known++;
	}
	if (!known) {
		ld_err(l, NULL,
		       "not a lab file: its top-level keys match neither the vpcfw lab format "
		       "(vpcs, ...), Terraform JSON, nor any aws describe-* output vpcfw knows");
		return;
	}
	json_object_foreach((json_t *)root, k, v)
	{
		int kind = aws_kind(k);
		if (!is_aws_key(k))
			ld_warn(l, k, "unknown top-level key ignored");
		else if (kind >= 0 && !aws_kinds[kind].read && json_array_size(v))
			note_skipped(l, kind);
	}
	for (size_t i = 0; i < N_AWS_KINDS; i++)
		if (aws_kinds[i].read && has_key(root, aws_kinds[i].key))
			ld_each_object(l, root, aws_kinds[i].key, "", aws_kinds[i].read);
	if (has_key(root, "Entries"))
		aws_load_prefix_list_entries(l, root, name);
}

/*
 * A JSON error without the text around it: the daemon runs as root and
 * reloads any path a control-group member names, and quoting "near 'root'"
 * of /etc/shadow would hand them its first token. What does not even start
 * like JSON is only called that; for the rest, line and column tell the
 * author of a lab where to look.
 */
static void json_syntax_error(struct loader *l, const char *json, size_t len,
			      const json_error_t *err)
{
	const char *near = strstr(err->text, " near ");
	size_t i = 0;

	while (i < len && strchr(" \t\r\n", json[i]))
		i++;
	if (i == len || (json[i] != '{' && json[i] != '['))
		ld_err(l, NULL, "not a lab file: not JSON");
	else
		ld_err(l, NULL, "invalid JSON at line %d, column %d: %.*s", err->line, err->column,
		       near ? (int)(near - err->text) : (int)strlen(err->text), err->text);
}

/* Cloud Custodian / botocore recordings wrap the response:
 * {"status_code": 200, "data": {...describe-* output...}}. */
static const json_t *unwrap_recording(const json_t *root)
{
	const json_t *data = json_object_get(root, "data");
	if (json_is_object(data) && json_object_get(root, "status_code") &&
	    json_object_size(root) == 2)
		return data;
	return root;
}

static void load_document(struct loader *l, const char *name, const char *json, size_t len)
{
	l->file = arena_strdup(l->a, name);
	json_error_t err;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		json_syntax_error(l, json, len, &err);
		return;
	}
	const json_t *doc = json_is_object(root) ? unwrap_recording(root) : root;
	if (!json_is_object(root))
		ld_err(l, NULL, "not a lab file: the document is %s, not an object",
		       json_kind(root));
	else if (is_lab_format(doc))
		lab_format_load(l, doc);
	else if (tf_is_document(doc))
		tf_load(l, doc);
	else
		load_aws_document(l, doc, name);
	json_decref(root);
}

static void loader_free(struct loader *l)
{
	struct vec *vecs[] = {&l->vpcs,	   &l->subnets,	 &l->enis,	 &l->groups,
			      &l->nacls,   &l->pls,	 &l->pl_entries, &l->rts,
			      &l->outside, &l->gateways, &l->eips,	 &l->services};
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		vec_free(vecs[i]);
	tf_loader_free(l);
	lb_loader_free(l);
	idmap_free(&l->eni_ids);
	idmap_free(&l->ix_vpcs);
	idmap_free(&l->ix_subnets);
	idmap_free(&l->ix_groups);
	arena_destroy(l->tmp);
}

/* "examples/ten-thousand/lab.json" -> "ten-thousand"; "x/prod.json" -> "prod". */
static const char *name_from_path(struct arena *a, const char *path)
{
	char *p = arena_strdup(a, path);
	if (!p)
		return "lab";
	if (strchr(p, ',')) /* "A,B": named after A */
		*strchr(p, ',') = '\0';
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	char *base = strrchr(p, '/');
	base = base ? base + 1 : p;
	char *dot = strrchr(base, '.');
	if (dot && !strcmp(dot, ".json"))
		*dot = '\0';
	if (!strcmp(base, "lab") && base != p) {
		base[-1] = '\0';
		char *dir = strrchr(p, '/');
		base = dir ? dir + 1 : p;
	}
	return *base ? base : "lab";
}

static int load_all(size_t n, const char *const *names, const char *const *json, const size_t *lens,
		    const struct lab_load_opts *o, const char *source, struct lab **out,
		    struct diag_list *diags)
{
	*out = NULL;
	struct loader l;
	memset(&l, 0, sizeof(l));
	l.a = arena_create();
	l.tmp = arena_create();
	l.d = diags;
	l.strict = o && o->strict;
	ld_default_options(&l.opts);
	if (!l.a || !l.tmp) {
		arena_destroy(l.a);
		arena_destroy(l.tmp);
		diag_add(diags, DIAG_ERROR, source, NULL, "out of memory");
		return -ENOMEM;
	}
	size_t errors = diags->n_errors; /* the caller's list may hold some already */
	for (size_t i = 0; i < n; i++)
		load_document(&l, names[i], json[i], lens[i]);
	struct lab *lab = ld_finish(&l);
	bool clean = l.d->n_errors == errors; /* l.d is diags: the readers added to it */
	if (lab && clean && lab_index_addresses(lab) < 0) {
		diag_add(diags, DIAG_ERROR, source, NULL, "out of memory");
		clean = false;
	}
	if (lab && clean) {
		lab->source = arena_strdup(l.a, source);
		if (!lab->name)
			lab->name = name_from_path(l.a, source);
		*out = lab;
		loader_free(&l);
		return 0;
	}
	if (clean)
		diag_add(diags, DIAG_ERROR, source, NULL, "the lab could not be built");
	arena_destroy(l.a);
	loader_free(&l);
	return -EINVAL;
}

int lab_load_buffers(size_t n, const char *const *names, const char *const *json,
		     const size_t *lens, const struct lab_load_opts *o, struct lab **out,
		     struct diag_list *diags)
{
	return load_all(n, names, json, lens, o, n ? names[0] : "lab", out, diags);
}

int lab_load_buffer(const char *name, const char *json, size_t len, const struct lab_load_opts *o,
		    struct lab **out, struct diag_list *diags)
{
	return load_all(1, &name, &json, &len, o, name, out, diags);
}

/*
 * Regular files only: a FIFO would block the open (or the read) until a
 * writer came, and /dev/zero never ends. O_NONBLOCK makes the open of a
 * FIFO return at once, and fstat then refuses it.
 */
static FILE *open_regular(const char *path, struct diag_list *diags)
{
	struct stat st;
	FILE *f;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		diag_add(diags, DIAG_ERROR, path, NULL, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		diag_add(diags, DIAG_ERROR, path, NULL,
			 "not a regular file (a lab is a JSON file or a directory of them)");
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		diag_add(diags, DIAG_ERROR, path, NULL, "cannot open: %s", strerror(errno));
		close(fd);
	}
	return f;
}

static char *read_file(const char *path, size_t *len, struct diag_list *diags)
{
	FILE *f = open_regular(path, diags);
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			if (cap >= LAB_FILE_MAX) {
				diag_add(diags, DIAG_ERROR, path, NULL, "larger than %u MiB",
					 LAB_FILE_MAX >> 20);
				free(buf);
				fclose(f);
				return NULL;
			}
			cap = cap ? cap * 2 : 65536;
			char *grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				fclose(f);
				diag_add(diags, DIAG_ERROR, path, NULL, "out of memory");
				return NULL;
			}
			buf = grown;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		diag_add(diags, DIAG_ERROR, path, NULL, "read error");
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

struct path_list {
	char **items;
	size_t n, cap;
};

static int path_push(struct path_list *pl, const char *path)
{
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		char **grown = realloc(pl->items, cap * sizeof(char *));
		if (!grown)
			return -ENOMEM;
		pl->items = grown;
		pl->cap = cap;
	}
	if (!(pl->items[pl->n] = strdup(path)))
		return -ENOMEM;
	pl->n++;
	return 0;
}

static void path_list_free(struct path_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->items[i]);
	free(pl->items);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static bool is_json_name(const char *name)
{
	size_t n = strlen(name);
	return n > 5 && !strcmp(name + n - 5, ".json");
}

#define DIR_DEPTH_MAX 16 /* accounts/<id>/<region>/ is 3; symlink loops end here */

/* The *.json files under a directory, subdirectories included (a collector
 * writes accounts/<id>/<region>/), each directory in name order so every
 * run reads them in the same order (ids, messages and merges are then
 * reproducible). */
static int list_dir(const char *dir, int depth, struct path_list *pl, struct diag_list *diags)
{
	struct dirent **ents;
	int k = scandir(dir, &ents, not_hidden, alphasort);
	if (k < 0) {
		int e = errno;
		diag_add(diags, DIAG_ERROR, dir, NULL, "cannot read directory: %s", strerror(e));
		return -e;
	}
	int r = 0;
	for (int i = 0; i < k; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(dir) + strlen(name) + 2;
		char *sub = malloc(len);
		struct stat st;
		if (!sub) {
			r = -ENOMEM;
		} else {
			snprintf(sub, len, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
				 name);
			if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && depth < DIR_DEPTH_MAX) {
				int rr = list_dir(sub, depth + 1, pl, diags);
				if (rr < 0 && !r)
					r = rr;
			} else if (is_json_name(name) && !r) {
				r = path_push(pl, sub);
			}
			free(sub);
		}
		free(ents[i]);
	}
	free(ents);
	return r;
}

/* One lab path: a file or a directory. */
static int collect_path(const char *path, struct path_list *pl, struct diag_list *diags)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		diag_add(diags, DIAG_ERROR, path, NULL, "cannot open: %s", strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode))
		return path_push(pl, path);
	size_t before = pl->n;
	int r = list_dir(path, 0, pl, diags);
	if (r < 0)
		return r;
	if (pl->n == before) {
		diag_add(diags, DIAG_ERROR, path, NULL, "no *.json files in this directory");
		return -ENOENT;
	}
	return 0;
}

/* "A,B": several paths forming one lab (a path that exists as written,
 * commas and all, is taken as one path). */
static int collect_paths(const char *path, struct path_list *pl, struct diag_list *diags)
{
	struct stat st;
	if (!strchr(path, ',') || stat(path, &st) == 0)
		return collect_path(path, pl, diags);
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	int r = 0;
	char *save = NULL;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		int rr = collect_path(p, pl, diags);
		if (rr < 0 && !r)
			r = rr; /* go on: report every bad part */
	}
	free(copy);
	return r;
}

int lab_load(const char *path, const struct lab_load_opts *o, struct lab **out,
	     struct diag_list *diags)
{
	*out = NULL;
	struct path_list pl = {0};
	int r = collect_paths(path, &pl, diags);
	if (r < 0) {
		path_list_free(&pl);
		return r;
	}
	size_t n = pl.n;
	char **bufs = calloc(n ? n : 1, sizeof(char *));
	size_t *lens = calloc(n ? n : 1, sizeof(size_t));
	r = (bufs && lens) ? 0 : -ENOMEM;
	for (size_t i = 0; bufs && lens && i < n; i++)
		if (!(bufs[i] = read_file(pl.items[i], &lens[i], diags)))
			r = -EIO; /* read the rest: report every unreadable file */
	if (!r)
		r = load_all(n, (const char *const *)pl.items, (const char *const *)bufs, lens, o,
			     path, out, diags);
	for (size_t i = 0; bufs && i < n; i++)
		free(bufs[i]);
	path_list_free(&pl);
	free(bufs);
	free(lens);
	return r;
}
