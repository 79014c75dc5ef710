/*
 * Paths of the container, resolved inside its root filesystem: openat2(RESOLVE_IN_ROOT) where
 * the kernel has it (5.6 and later), else a walk of one O_PATH | O_NOFOLLOW component at a time
 * that follows symlinks itself and never climbs above the root. See resolve.h.
 */
#define _GNU_SOURCE
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

int root_fd = -1;

#define MAX_LINKS 40
#define MAX_DEPTH 255

/* The walk, for kernels without openat2: a stack of directory descriptors from the root down;
 * ".." pops one (never below the root), a symlink's target is spliced into what remains to
 * walk (an absolute one empties the stack: "/" is the root). A descriptor is only ever opened
 * relative to one already verified, so a rename elsewhere cannot take the walk outside. */
static int walk_in_root(int root, const char *path, int flags) {
  static char todo[2][8192];
  int which = 0;
  if (snprintf(todo[which], sizeof todo[which], "%s", path) >= (int)sizeof todo[which]) return -ENAMETOOLONG;
  int stack[MAX_DEPTH + 1];
  int depth = 0;
  stack[0] = root;
  int links = 0, err = 0;
  char *rest = todo[which];
  for (;;) {
    while (*rest == '/') rest++;
    if (*rest == '\0') break;
    char *end = strchrnul(rest, '/');
    size_t len = (size_t)(end - rest);
    char name[256];
    if (len >= sizeof name) {
      err = ENAMETOOLONG;
      break;
    }
    memcpy(name, rest, len);
    name[len] = '\0';
    rest = end;
    const char *after = rest;
    while (*after == '/') after++;
    bool last = *after == '\0';
    if (strcmp(name, ".") == 0) continue;
    if (strcmp(name, "..") == 0) {
      if (depth > 0) close(stack[depth--]);
      continue;
    }
    int fd = openat(stack[depth], name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      err = errno;
      close(fd);
      break;
    }
    if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
      char target[4096];
      ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
      close(fd);
      if (n < 0 || ++links > MAX_LINKS) {
        err = n < 0 ? errno : ELOOP;
        break;
      }
      target[n] = '\0';
      int next = 1 - which;
      if (snprintf(todo[next], sizeof todo[next], "%s/%s", target, rest) >= (int)sizeof todo[next]) {
        err = ENAMETOOLONG;
        break;
      }
      which = next;
      rest = todo[which];
      if (target[0] == '/') {
        while (depth > 0) close(stack[depth--]);
      }
      continue;
    }
    if (!last && !S_ISDIR(st.st_mode)) {
      err = ENOTDIR;
      close(fd);
      break;
    }
    if (depth == MAX_DEPTH) {
      err = ENAMETOOLONG;
      close(fd);
      break;
    }
    stack[++depth] = fd;
  }
  int result = -1;
  if (err == 0) {
    result = depth > 0 ? stack[depth--] : fcntl(root, F_DUPFD_CLOEXEC, 0);
    if (result < 0) err = errno;
  }
  while (depth > 0) close(stack[depth--]);
  if (err == 0 && (flags & O_DIRECTORY)) {
    struct stat st;
    if (fstat(result, &st) != 0 || !S_ISDIR(st.st_mode)) {
      err = ENOTDIR;
      close(result);
    }
  }
  return err == 0 ? result : -err;
}

int resolve_in(int root, const char *path, int flags) {
  if (root < 0) return -EBADF;
  static bool no_openat2 = false;
  if (!no_openat2) {
    struct open_how how = {0};
    how.flags = O_PATH | O_CLOEXEC | (flags & (O_NOFOLLOW | O_DIRECTORY));
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 16; attempt++) {
      long fd = syscall(SYS_openat2, root, path, &how, sizeof how);
      if (fd >= 0) return (int)fd;
      /* EAGAIN: a rename raced with ".." resolution; the kernel asks us to try again. */
      if (errno == EAGAIN) continue;
      if (errno == ENOSYS) break;
      return -errno;
    }
    if (errno != ENOSYS) return -errno;
    no_openat2 = true;
  }
  return walk_in_root(root, path, flags);
}

int resolve(const char *path, int flags) { return resolve_in(root_fd, path, flags); }

int open_in(int root, const char *path, int flags) {
  if (root < 0) return -EBADF;
  struct open_how how = {0};
  how.flags = (uint64_t)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0; attempt < 16; attempt++) {
    long fd = syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno == EAGAIN) continue;
    if (errno != ENOSYS) return -errno;
    break;
  }
  /* Without openat2: the walk finds it, and its descriptor is opened again for reading. */
  int found = walk_in_root(root, path, flags & (O_NOFOLLOW | O_DIRECTORY));
  if (found < 0) return found;
  char proc[32];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", found);
  int fd = open(proc, (flags | O_CLOEXEC) & ~O_NOFOLLOW);
  int err = errno;
  close(found);
  return fd >= 0 ? fd : -err;
}

/* PATH's last component made (mode) in its parent, which must resolve; the new directory
 * resolved as the walk resolves it, or -errno. */
static int mkdir_last(const char *path, unsigned mode) {
  char name[256];
  int dir = parent_in_root(path, name, 0);
  if (dir < 0) return dir;
  int err = mkdirat(dir, name, mode) != 0 && errno != EEXIST ? errno : 0;
  close(dir);
  return err != 0 ? -err : resolve(path, O_DIRECTORY);
}

int mkdir_in_root(const char *path, unsigned mode) {
  /* Most directories a plan names exist already (the parent of each of /dev's nodes and
   * links): one resolution of the whole path then, not one of "/" and of each prefix. The
   * walk's last step resolves this same path the same way, so only a path that does not
   * resolve (yet) takes the walk. */
  int whole = resolve(path, O_DIRECTORY);
  if (whole >= 0) return whole;
  /* The next most common: only the last component is missing (/dev/pts, each controller's
   * directory under /sys/fs/cgroup). Any other outcome takes the walk, which starts over. */
  if (whole == -ENOENT) {
    int made = mkdir_last(path, mode);
    if (made >= 0) return made;
  }
  char prefix[4096];
  size_t used = 0;
  int dir = resolve("/", O_DIRECTORY);
  const char *p = path;
  while (dir >= 0) {
    while (*p == '/') p++;
    if (*p == '\0') break;
    const char *end = strchrnul(p, '/');
    size_t len = (size_t)(end - p);
    if (len >= 256 || used + len + 2 >= sizeof prefix) {
      close(dir);
      return -ENAMETOOLONG;
    }
    char name[256];
    memcpy(name, p, len);
    name[len] = '\0';
    prefix[used++] = '/';
    memcpy(prefix + used, p, len);
    used += len;
    prefix[used] = '\0';
    p = end;
    /* Each prefix is resolved afresh inside the root: a component that is (or just became) a
     * symlink is followed as the container would, never out of it. */
    int next = resolve(prefix, O_DIRECTORY);
    if (next == -ENOENT && strcmp(name, "..") != 0 && strcmp(name, ".") != 0) {
      if (mkdirat(dir, name, mode) != 0 && errno != EEXIST) {
        int err = errno;
        close(dir);
        return -err;
      }
      next = resolve(prefix, O_DIRECTORY);
    }
    close(dir);
    dir = next;
  }
  return dir;
}

int parent_in_root(const char *path, char *name, int create) {
  char parent[4096];
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  if (len >= sizeof parent) return -ENAMETOOLONG;
  memcpy(parent, path, len);
  parent[len] = '\0';
  char *slash = strrchr(parent, '/');
  const char *last = slash == NULL ? parent : slash + 1;
  if (strlen(last) >= 256 || last[0] == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0) return -EINVAL;
  strcpy(name, last);
  if (slash == NULL) strcpy(parent, "/");
  else slash[1] = '\0';
  return create ? mkdir_in_root(parent, 0755) : resolve(parent, O_DIRECTORY);
}

/* The mount a descriptor is on, from /proc/self/fdinfo (Linux 3.15): for kernels without
 * openat2's RESOLVE_NO_XDEV. -1 when it cannot be read. */
static long mount_id_of(int fd) {
  char path[64], info[1024];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  int info_fd = open(path, O_RDONLY | O_CLOEXEC);
  if (info_fd < 0) return -1;
  ssize_t n = read(info_fd, info, sizeof info - 1);
  close(info_fd);
  if (n <= 0) return -1;
  info[n] = '\0';
  char *line = strstr(info, "mnt_id:");
  return line == NULL ? -1 : strtol(line + 7, NULL, 10);
}

/* Without openat2: one component at a time beneath `dir`, none a symlink, each on the mount
 * `dir` is on. */
static int walk_same_mount(int dir, const char *path, int flags) {
  long mount = mount_id_of(dir);
  if (mount < 0) return -EIO;
  char rest[4096];
  if (snprintf(rest, sizeof rest, "%s", path) >= (int)sizeof rest) return -ENAMETOOLONG;
  int at = fcntl(dir, F_DUPFD_CLOEXEC, 0);
  if (at < 0) return -errno;
  char *save = NULL;
  for (char *name = strtok_r(rest, "/", &save); name != NULL;) {
    char *next = strtok_r(NULL, "/", &save);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      close(at);
      return -EINVAL; /* never in a path the plan gives: beneath means beneath */
    }
    int fd = openat(at, name, (next == NULL ? flags : O_PATH) | O_NOFOLLOW | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;
    close(at);
    if (fd < 0) return -err; /* ELOOP for a last component that is a symlink */
    if (next != NULL) {
      struct stat st;
      err = fstat(fd, &st) != 0 ? errno : S_ISLNK(st.st_mode) ? ELOOP : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
      if (err != 0) {
        close(fd);
        return -err;
      }
    }
    if (mount_id_of(fd) != mount) {
      close(fd);
      return -EXDEV;
    }
    at = fd;
    name = next;
  }
  return at;
}

int open_in_procfs(const char *proc, const char *path, int flags) {
  if (root_fd < 0) return -EBADF;
  struct open_how how = {0};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  bool have_openat2 = true;
  long dir;
  do {
    dir = syscall(SYS_openat2, root_fd, proc, &how, sizeof how);
  } while (dir < 0 && errno == EAGAIN);
  if (dir < 0 && errno == ENOSYS) {
    /* The walk follows the symlinks of the components before the last one as the container
     * would; the plan's `proc` is "/proc", a single component, so here too none is followed. */
    have_openat2 = false;
    dir = walk_in_root(root_fd, proc, O_NOFOLLOW);
    struct stat st;
    if (dir >= 0 && fstat((int)dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
      close((int)dir);
      dir = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
    }
    if (dir < 0) errno = (int)-dir;
  }
  if (dir < 0) return errno == ENOENT || errno == ENOTDIR ? -ENODEV : -errno;
  /* The root directory of a procfs (its inode is always 1), not a directory inside one. */
  struct statfs fs;
  struct stat st;
  if (fstatfs((int)dir, &fs) != 0 || fstat((int)dir, &st) != 0) {
    int err = errno;
    close((int)dir);
    return -err;
  }
  if (fs.f_type != PROC_SUPER_MAGIC || st.st_ino != 1) {
    close((int)dir);
    return -ENODEV;
  }
  long fd;
  if (have_openat2) {
    struct open_how beneath = {0};
    beneath.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
    beneath.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    do {
      fd = syscall(SYS_openat2, (int)dir, path, &beneath, sizeof beneath);
    } while (fd < 0 && errno == EAGAIN);
    if (fd < 0) fd = -errno;
  } else {
    fd = walk_same_mount((int)dir, path, flags);
  }
  close((int)dir);
  return (int)fd;
}
