/*
 * Output files that no planted symlink or pre-made directory can redirect
 * (outfile.h says the rules). Everything is opened relative to descriptors
 * already checked, so nothing renamed between a check and a use changes
 * where the bytes go.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

static bool owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The directory files will be created in: root's (or ours), and nobody
 * else may add, remove or rename entries in it. */
static int dir_safe(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", path);
		return -ENOTDIR;
	}
	if (!owner_ok(st.st_uid)) {
		snprintf(err, errlen,
			 "%s: owned by uid %u, not root: refusing to write there (make it "
			 "root's, mode 0750 or 0755, or remove it and let vpcfwd create it)",
			 path, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s: writable by %s (mode %04o): refusing to write there (chmod go-w "
			 "it, or use a directory only root can write)",
			 path, st.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* One step of the walk: component c of path under fd, created 0750 if
 * missing. A symlink is followed only when root owns it. */
static int dir_step(int fd, const char *c, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int nfd, flags = O_PATH | O_DIRECTORY | O_CLOEXEC;

	if (fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT || (mkdirat(fd, c, 0750) < 0 && errno != EEXIST)) {
			snprintf(err, errlen, "%s: %s: %s", path, c, strerror(errno));
			return -errno;
		}
		flags |= O_NOFOLLOW;
	} else if (S_ISLNK(st.st_mode)) {
		if (st.st_uid != 0) {
			snprintf(err, errlen,
				 "%s: %s is a symlink owned by uid %u: refusing to follow it", path,
				 c, (unsigned)st.st_uid);
			return -ELOOP;
		}
	} else {
		flags |= O_NOFOLLOW;
	}
	nfd = openat(fd, c, flags);
	if (nfd < 0) {
		snprintf(err, errlen, "%s: %s: %s", path, c,
			 errno == ELOOP ? "a symlink appeared: refusing to follow it"
					: strerror(errno));
		return -errno;
	}
	return nfd;
}

int outfile_dir_open(const char *path, int *dirfd, char *err, size_t errlen)
{
	char buf[4096];
	char *save = NULL, *c;
	int fd, r;

	*dirfd = -1;
	if (strlen(path) >= sizeof(buf)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, strlen(path) + 1);
	fd = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	for (c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int nfd = dir_step(fd, c, path, err, errlen);

		close(fd);
		if (nfd < 0)
			return nfd;
		fd = nfd;
	}
	r = dir_safe(fd, path, err, errlen);
	if (r < 0) {
		close(fd);
		return r;
	}
	*dirfd = fd;
	return 0;
}

/* The file just opened: a regular file with no other name (a hard link
 * to a file elsewhere would be written through), then 0640 and group. */
static int file_fix(int fd, const char *dirpath, const char *name, gid_t gid, char *err,
		    size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s/%s: %s", dirpath, name, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || !owner_ok(st.st_uid)) {
		snprintf(err, errlen,
			 "%s/%s: not a regular file of root's with one link: refusing to write "
			 "to it",
			 dirpath, name);
		return -EPERM;
	}
	if (fchmod(fd, 0640) < 0 || (gid != OUTFILE_NO_GROUP && fchown(fd, (uid_t)-1, gid) < 0)) {
		snprintf(err, errlen, "%s/%s: %s", dirpath, name, strerror(errno));
		return -errno;
	}
	return 0;
}

int outfile_open(int dirfd, const char *dirpath, const char *name, bool append, gid_t gid,
		 char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO planted under the name must not block the open. */
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	int fd, r;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		snprintf(err, errlen, "%s: '%s' is not a file name", dirpath, name);
		return -EINVAL;
	}
	fd = openat(dirfd, name, flags | (append ? O_APPEND : 0), 0640);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: %s", dirpath, name,
			 r == -ELOOP ? "a symlink: refusing to write through it" : strerror(-r));
		return r;
	}
	r = file_fix(fd, dirpath, name, gid, err, errlen);
	if (r == 0 && !append && ftruncate(fd, 0) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s/%s: %s", dirpath, name, strerror(-r));
	}
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int outfile_split(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!*path || (slash && !slash[1]))
		return -EINVAL;
	if (!slash) {
		*name = path;
		return snprintf(dir, dirlen, ".") < (int)dirlen ? 0 : -ENAMETOOLONG;
	}
	*name = slash + 1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirlen)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int outfile_group(const char *group, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long n;

	errno = 0;
	n = strtoul(group, &end, 10);
	if (*group && !*end && !errno && n < (gid_t)-1) {
		*gid = (gid_t)n;
		return 0;
	}
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*gid = res->gr_gid;
	return 0;
}
