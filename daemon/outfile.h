/*
 * Output files root writes where others may have been first: the flow log
 * and the reject captures (--pcap-dir). A local user who creates the
 * directory before vpcfwd does, or plants a symlink under a predictable
 * name (ENI ids are), must not get root to write anywhere else (issue 14).
 *
 * A directory is used only if it is owned by root (or vpcfwd's own user)
 * and writable by nobody else; missing directories are created 0750.
 * Along the path, a symlink is followed only when root owns it (as the
 * kernel's protected_symlinks does for sticky directories); the directory
 * named last is opened with O_NOFOLLOW. Files are then opened relative to
 * that directory's descriptor with O_NOFOLLOW, must be regular files with
 * one link, and are set to 0640, group `gid` when one is given (they hold
 * addresses and, for captures, payloads).
 *
 * Not for: the control socket and state files (control.c, topology_state.c).
 */
#ifndef VPCFW_OUTFILE_H
#define VPCFW_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* No group change: the file keeps vpcfwd's group. */
#define OUTFILE_NO_GROUP ((gid_t)-1)

/* Opens (creating what is missing, 0750) the directory path for output
 * files. The descriptor (O_PATH, close-on-exec) in *dirfd, or -errno and
 * a message naming path and what is wrong in err. */
int outfile_dir_open(const char *path, int *dirfd, char *err, size_t errlen);

/* Opens name (one component) in dirfd for writing: appended to, or
 * truncated. A descriptor, or -errno and a message (dirpath is only for
 * it). */
int outfile_open(int dirfd, const char *dirpath, const char *name, bool append, gid_t gid,
		 char *err, size_t errlen);

/* Splits path into its directory (".", "/" or everything before the last
 * slash) and last component, in dir and *name (pointing into path).
 * -ENAMETOOLONG, or -EINVAL when path names no file (empty, ends in '/'). */
int outfile_split(const char *path, char *dir, size_t dirlen, const char **name);

/* A group by name or number: 0 and *gid, or -ENOENT. */
int outfile_group(const char *group, gid_t *gid);

#endif
