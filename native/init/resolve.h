/*
 * Paths of the container, resolved inside its root filesystem through descriptors.
 *
 * An image or a volume is hostile input: a symlink in it must never lead a path out of the
 * root, not even one planted after the plan was built (CVE-2021-30465 and kin). So every path
 * the plan names in the container is opened here, relative to the root's descriptor, at the
 * moment it is acted on, and the act goes through the descriptor.
 */
#ifndef RUNCELL_RESOLVE_H
#define RUNCELL_RESOLVE_H

/* The container's root (an O_PATH descriptor), set by the i-open-root step, and "/" again
 * once pivot_root (or chroot) has made it the root; -1 before. */
extern int root_fd;

/* Opens `path` (absolute or not, always taken inside `root`) with O_PATH | O_CLOEXEC | `flags`
 * (O_NOFOLLOW: the last component is not followed; O_DIRECTORY). Symlinks resolve as the
 * container would see them, ".." stops at the root, and magic links (/proc/PID/fd/N) are
 * refused. Returns a descriptor, or -errno. */
int resolve_in(int root, const char *path, int flags);

/* Opens `path` inside `root` as resolve_in() resolves it, with `flags` (O_RDONLY, ...) rather
 * than O_PATH: for reading a file of the container. Returns a descriptor, or -errno. */
int open_in(int root, const char *path, int flags);

/* resolve_in(root_fd, ...). */
int resolve(const char *path, int flags);

/* Creates each missing directory of `path` inside the root, one component at a time with
 * mkdirat on the resolved parent, never by path. Returns a descriptor of the directory, or
 * -errno. */
int mkdir_in_root(const char *path, unsigned mode);

/* The resolved parent directory of `path` and its last component (copied into `name`, which
 * holds 256 bytes); the parent's missing directories are created when `create` is set.
 * Returns a descriptor, or -errno (EINVAL for a path without a last component). */
int parent_in_root(const char *path, char *name, int create);

/* Opens `path` (relative, e.g. "sys/net/ipv4/ip_forward") with `flags` in the procfs mounted at
 * `proc` in the root: `proc` is resolved inside the root without following any symlink and
 * must be the root directory of a procfs (ENODEV otherwise, or when it is missing); `path` is
 * opened beneath it without following any symlink (ELOOP) or crossing any mount (EXDEV: a mount
 * over a file or directory of it, even a bind of another procfs file, would redirect the
 * write). Returns a descriptor, or -errno. */
int open_in_procfs(const char *proc, const char *path, int flags);

#endif
