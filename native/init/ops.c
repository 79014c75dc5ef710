/*
 * The launch-plan interpreter: one system call (or one fixed short sequence) per operation.
 * Nothing here chooses what to do; a failing step returns its errno and the caller reports
 * the step's index, which TypeScript turns into "mount "proc" on "/proc": EPERM".
 */
#define _GNU_SOURCE
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <grp.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *nullable(const char *s) { return s[0] == '\0' ? NULL : s; }
static unsigned long number(const char *s) { return strtoul(s, NULL, 0); }
static uint64_t number64(const char *s) { return strtoull(s, NULL, 0); }
static int fail(void) { return errno != 0 ? errno : EIO; }

/* mkdir -p: every missing component, EEXIST is fine. */
static int mkdir_all(const char *path, mode_t mode) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof buf) return ENAMETOOLONG;
  memcpy(buf, path, len + 1);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(buf, mode) != 0 && errno != EEXIST) return fail();
      *p = saved;
      if (saved == '\0') return 0;
    }
  }
}

/* A read-only bind remount keeps the flags the mount already has (the kernel refuses to drop
 * locked ones such as nosuid in a user namespace). */
static int remount_ro(const char *target, unsigned long extra) {
  struct statvfs st;
  if (statvfs(target, &st) != 0) return fail();
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY | extra;
  if (st.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return mount(NULL, target, NULL, flags, NULL) == 0 ? 0 : fail();
}

/* maskedPaths: a directory is covered by an empty read-only tmpfs, anything else by /dev/null.
 * A path that does not exist needs no mask. */
static int mask_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno == ENOENT ? 0 : fail();
  if (S_ISDIR(st.st_mode)) {
    return mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k") == 0 ? 0 : fail();
  }
  return mount("/dev/null", path, NULL, MS_BIND, NULL) == 0 ? 0 : fail();
}

/* readonlyPaths: bound onto itself and remounted read-only; a missing path needs nothing. */
static int readonly_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return errno == ENOENT ? 0 : fail();
  if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) return fail();
  return remount_ro(path, MS_REC);
}

static int write_file(const char *path, const char *content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail();
  size_t len = strlen(content);
  ssize_t n = write(fd, content, len);
  int err = n < 0 ? fail() : ((size_t)n != len ? EIO : 0);
  close(fd);
  return err;
}

/* pivot_root(".", "."): the old root ends up stacked under the new one and is detached at
 * once, so no path to the host's filesystem stays reachable. */
static int pivot_root_to(const char *newroot) {
  if (chdir(newroot) != 0) return fail();
  if (syscall(SYS_pivot_root, ".", ".") != 0) return fail();
  if (umount2(".", MNT_DETACH) != 0) return fail();
  return chdir("/") == 0 ? 0 : fail();
}

/* The fallback where pivot_root cannot work (a ramfs root): move the new root over "/". */
static int move_root_to(const char *newroot) {
  if (chdir(newroot) != 0) return fail();
  if (mount(newroot, "/", NULL, MS_MOVE, NULL) != 0) return fail();
  if (chroot(".") != 0) return fail();
  return chdir("/") == 0 ? 0 : fail();
}

/* The first of the candidate paths that is an executable regular file. */
static int find_executable(int argc, char **argv, char *found, size_t size) {
  int err = ENOENT;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) err = errno;
      continue;
    }
    if (!S_ISREG(st.st_mode) || access(argv[i], X_OK) != 0) {
      err = EACCES;
      continue;
    }
    snprintf(found, size, "%s", argv[i]);
    return 0;
  }
  return err;
}

static int set_capabilities(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)effective;
  data[1].effective = (uint32_t)(effective >> 32);
  data[0].permitted = (uint32_t)permitted;
  data[1].permitted = (uint32_t)(permitted >> 32);
  data[0].inheritable = (uint32_t)inheritable;
  data[1].inheritable = (uint32_t)(inheritable >> 32);
  return syscall(SYS_capset, &header, data) == 0 ? 0 : fail();
}

/* Drops from the bounding set every capability not in `keep` (up to the kernel's last one). */
static int drop_bounding(uint64_t keep) {
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break; /* past the last capability this kernel knows */
      return fail();
    }
  }
  return 0;
}

static int raise_ambient(uint64_t caps) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return fail();
  for (int cap = 0; cap <= 63; cap++) {
    if ((caps & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return fail();
  }
  return 0;
}

/* The filter arrives as the hex of its struct sock_filter array, compiled by the addon. */
static int load_seccomp(unsigned long flags, const char *hex) {
  size_t len = strlen(hex) / 2;
  if (len == 0 || len % sizeof(struct sock_filter) != 0) return EINVAL;
  unsigned char *bytes = malloc(len);
  if (bytes == NULL) return ENOMEM;
  for (size_t i = 0; i < len; i++) {
    unsigned int byte;
    if (sscanf(hex + 2 * i, "%2x", &byte) != 1) {
      free(bytes);
      return EINVAL;
    }
    bytes[i] = (unsigned char)byte;
  }
  struct sock_fprog program = {(unsigned short)(len / sizeof(struct sock_filter)), (struct sock_filter *)bytes};
  int err = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program) == 0 ? 0 : fail();
  free(bytes);
  return err;
}

/* exec <path-candidates...> -- <argv...> -- <env...>: the candidates come from the builder's
 * PATH search; the first executable one is run. */
static int exec_process(int argc, char **argv) {
  int first_sep = -1, second_sep = -1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      if (first_sep < 0) first_sep = i;
      else if (second_sep < 0) second_sep = i;
    }
  }
  if (first_sep < 0 || second_sep < 0) return EINVAL;
  char path[4096];
  argv[first_sep] = NULL;
  int err = find_executable(first_sep, argv, path, sizeof path);
  if (err != 0) return err;
  argv[second_sep] = NULL;
  char **args = &argv[first_sep + 1];
  char **env = &argv[second_sep + 1];
  execve(path, args, env);
  return fail();
}

int op_run(struct op *op) {
  char **a = op->argv;
  const char *name = a[0] + 2; /* past the phase prefix */
  errno = 0;
  if (strcmp(name, "mount") == 0) {
    return mount(nullable(a[1]), a[2], nullable(a[3]), number(a[4]), nullable(a[5])) == 0 ? 0 : fail();
  }
  if (strcmp(name, "remount-ro") == 0) return remount_ro(a[1], number(a[2]));
  if (strcmp(name, "mkdir") == 0) return mkdir_all(a[1], (mode_t)number(a[2]));
  if (strcmp(name, "touch") == 0) {
    int fd = open(a[1], O_WRONLY | O_CREAT | O_CLOEXEC, (mode_t)number(a[2]));
    if (fd < 0) return fail();
    close(fd);
    return 0;
  }
  if (strcmp(name, "mknod") == 0) {
    if (mknod(a[1], (mode_t)number(a[2]), makedev(number(a[3]), number(a[4]))) != 0 && errno != EEXIST) return fail();
    return 0;
  }
  if (strcmp(name, "chown") == 0) return chown(a[1], (uid_t)number(a[2]), (gid_t)number(a[3])) == 0 ? 0 : fail();
  if (strcmp(name, "chmod") == 0) return chmod(a[1], (mode_t)number(a[2])) == 0 ? 0 : fail();
  if (strcmp(name, "symlink") == 0) {
    if (symlink(a[1], a[2]) != 0 && errno != EEXIST) return fail();
    return 0;
  }
  if (strcmp(name, "mask") == 0) return mask_path(a[1]);
  if (strcmp(name, "readonly") == 0) return readonly_path(a[1]);
  if (strcmp(name, "write") == 0) return write_file(a[1], a[2]);
  if (strcmp(name, "setns") == 0) {
    int fd = open(a[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail();
    int rc = setns(fd, (int)number(a[2]));
    int err = rc == 0 ? 0 : fail();
    close(fd);
    return err;
  }
  if (strcmp(name, "setns-fd") == 0) return setns((int)number(a[1]), (int)number(a[2])) == 0 ? 0 : fail();
  if (strcmp(name, "close") == 0) {
    for (int i = 1; i < op->argc; i++) close((int)number(a[i]));
    return 0;
  }
  if (strcmp(name, "unshare") == 0) return unshare((int)number(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "sethostname") == 0) return sethostname(a[1], strlen(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "setdomainname") == 0) return setdomainname(a[1], strlen(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "pivot-root") == 0) return pivot_root_to(a[1]);
  if (strcmp(name, "move-root") == 0) return move_root_to(a[1]);
  if (strcmp(name, "chdir") == 0) return chdir(a[1]) == 0 ? 0 : fail();
  if (strcmp(name, "find-exec") == 0) {
    char found[4096];
    return find_executable(op->argc, a, found, sizeof found);
  }
  if (strcmp(name, "setrlimit") == 0) {
    struct rlimit limit = {(rlim_t)number64(a[2]), (rlim_t)number64(a[3])};
    return setrlimit((int)number(a[1]), &limit) == 0 ? 0 : fail();
  }
  if (strcmp(name, "umask") == 0) {
    umask((mode_t)number(a[1]));
    return 0;
  }
  if (strcmp(name, "setsid") == 0) return setsid() >= 0 ? 0 : fail();
  if (strcmp(name, "keepcaps") == 0) return prctl(PR_SET_KEEPCAPS, number(a[1]), 0, 0, 0) == 0 ? 0 : fail();
  if (strcmp(name, "bounding") == 0) return drop_bounding(number64(a[1]));
  if (strcmp(name, "setgroups") == 0) {
    int n = op->argc - 1;
    gid_t *groups = calloc(n > 0 ? n : 1, sizeof(gid_t));
    if (groups == NULL) return ENOMEM;
    for (int i = 0; i < n; i++) groups[i] = (gid_t)number(a[i + 1]);
    int err = setgroups(n, groups) == 0 ? 0 : fail();
    free(groups);
    return err;
  }
  /* Raw system calls: glibc's wrappers would apply the change to every thread, and this
   * process has only one. */
  if (strcmp(name, "setgid") == 0) return syscall(SYS_setresgid, number(a[1]), number(a[1]), number(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "setuid") == 0) return syscall(SYS_setresuid, number(a[1]), number(a[1]), number(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "caps") == 0) return set_capabilities(number64(a[1]), number64(a[2]), number64(a[3]));
  if (strcmp(name, "ambient") == 0) return raise_ambient(number64(a[1]));
  if (strcmp(name, "no-new-privs") == 0) return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : fail();
  if (strcmp(name, "close-fds") == 0) {
    /* Marked close-on-exec rather than closed: the exec error pipe must survive until execve. */
    return syscall(SYS_close_range, (unsigned)number(a[1]), ~0U, CLOSE_RANGE_CLOEXEC) == 0 ? 0 : fail();
  }
  if (strcmp(name, "seccomp") == 0) return load_seccomp(number(a[1]), a[2]);
  if (strcmp(name, "exec") == 0) return exec_process(op->argc, a);
  return ENOSYS;
}
