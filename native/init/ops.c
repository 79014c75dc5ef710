/*
 * The launch-plan interpreter: one system call (or one fixed short sequence) per operation.
 * Nothing here chooses what to do; a failing step returns its errno and the caller reports
 * the step's index, which TypeScript turns into "mount "proc" on "/proc": EPERM".
 */
#define _GNU_SOURCE
#include "ops.h"
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <grp.h>
#include <dirent.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <net/if.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *nullable(const char *s) { return s[0] == '\0' ? NULL : s; }
static unsigned long number(const char *s) { return strtoul(s, NULL, 0); }
static uint64_t number64(const char *s) { return strtoull(s, NULL, 0); }
static int fail(void) { return errno != 0 ? errno : EIO; }

/* CONTENT written to FD in one write(2) (a file of procfs or sysfs takes its value whole), and
 * FD closed. */
static int write_and_close(int fd, const char *content) {
  size_t len = strlen(content);
  ssize_t n = write(fd, content, len);
  int err = n < 0 ? fail() : ((size_t)n != len ? EIO : 0);
  close(fd);
  return err;
}

static int write_file(const char *path, const char *content) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  return fd < 0 ? fail() : write_and_close(fd, content);
}

/* write-proc PATH CONTENT: CONTENT written to PATH under "/proc", which must be a procfs, reached
 * without crossing a mount (openat2 RESOLVE_NO_XDEV): a file bound over the path, a plain one or
 * another procfs file, would take the write, leave the process unconfined and perhaps change
 * something else (runc's CVE-2019-16884, CVE-2025-52881). EXDEV when "/proc" is not a procfs
 * or a mount is in the way. */
static int write_proc_file(const char *path, const char *content) {
  int proc = open("/proc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (proc < 0) return fail();
  struct statfs st;
  int err = fstatfs(proc, &st) != 0 ? fail() : (st.f_type != PROC_SUPER_MAGIC ? EXDEV : 0);
  if (err != 0) {
    close(proc);
    return err;
  }
  struct open_how how = {0};
  how.flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
  int fd;
  do {
    fd = (int)syscall(SYS_openat2, proc, path, &how, sizeof how);
  } while (fd < 0 && errno == EAGAIN);
  err = fd < 0 ? fail() : 0;
  close(proc);
  return err != 0 ? err : write_and_close(fd, content);
}

/* sysctl PROC PATH VALUE: VALUE written to PATH ("sys/net/ipv4/ip_forward") of the procfs
 * mounted at PROC in the container (open_in_procfs): the container's own procfs, whose
 * /proc/sys applies to the namespaces of the writer, and nothing mounted over it. */
static int write_sysctl(const char *proc, const char *path, const char *value) {
  int fd = open_in_procfs(proc, path, O_WRONLY);
  return fd < 0 ? -fd : write_and_close(fd, value);
}

/* The mount API (Linux 5.2; mount_setattr 5.12), as raw system calls: glibc has wrappers only
 * since 2.36. Its constants and struct mount_attr come from <sys/mount.h>. */
static int clone_tree(int dirfd, const char *path, unsigned flags) {
  return (int)syscall(SYS_open_tree, dirfd, path, flags);
}
static int attach_tree(int from, int to) {
  return (int)syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}
static int set_mount_attr(int fd, unsigned flags, uint64_t set, uint64_t clr, uint64_t propagation, int userns) {
  struct mount_attr attr = {set, clr, propagation, userns < 0 ? 0 : (uint64_t)userns};
  return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr);
}

/* "/proc/self/fd/N": how mount(2) is pointed at a descriptor. Before pivot_root this is the
 * host's procfs, which shows every process of this machine. */
static const char *fd_path(int fd, char buf[32]) {
  snprintf(buf, 32, "/proc/self/fd/%d", fd);
  return buf;
}

/* Runs `err = expr` with `fd` open, closes it, returns err. */
#define WITH_FD(fd, expr) ({ int err_ = (expr); if ((fd) >= 0) close(fd); err_; })

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

/* mount(2) onto a path of the container, resolved inside its root. */
static int mount_in_root(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
  int fd = resolve(target, 0);
  if (fd < 0) return -fd;
  char path[32];
  return WITH_FD(fd, mount(source, fd_path(fd, path), type, flags, data) == 0 ? 0 : fail());
}

/* A file to mount a file on, created in its resolved parent (never through a symlink). */
static int create_file_in_root(const char *path) {
  char name[256];
  int parent = parent_in_root(path, name, 1);
  if (parent < 0) return -parent;
  int fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  int err = fd >= 0 || errno == EEXIST ? 0 : fail();
  if (fd >= 0) close(fd);
  close(parent);
  return err;
}

/* The user namespace of the next id-mapped bind (i-idmap-userns, then i-bind ... idmap|ridmap). */
static int idmap_userns = -1;

/* idmap-userns UID_MAP GID_MAP: a user namespace with these maps, for MOUNT_ATTR_IDMAP: a child
 * is cloned into a new one, its maps written, the namespace opened, and the child killed. */
static int make_idmap_userns(const char *uid_map, const char *gid_map) {
  int pidfd = -1;
  /* The child is cloned dumpable: the /proc files of a non-dumpable process belong to the
   * host's root, and an init in a user namespace could not write its maps. It runs nothing
   * but pause() and is killed below. */
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_PIDFD | SIGCHLD, NULL, &pidfd, NULL, NULL);
  int clone_err = errno;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (pid < 0) return clone_err;
  if (pid == 0) {
    for (;;) pause();
  }
  /* The init may be in a pid namespace of its own while /proc is still the host's: the child
   * is named there by the pid the host's procfs shows for its pidfd. */
  int err = 0;
  char path[64], info[512];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, info, sizeof info - 1);
  if (n < 0) err = fail();
  if (fd >= 0) close(fd);
  char *line = n < 0 ? NULL : (info[n] = '\0', strstr(info, "\nPid:"));
  long host_pid = line == NULL ? -1 : strtol(line + 5, NULL, 10);
  if (err == 0 && host_pid <= 0) err = ESRCH;
  const char *maps[2][2] = {{"uid_map", uid_map}, {"gid_map", gid_map}};
  for (int i = 0; i < 2 && err == 0; i++) {
    snprintf(path, sizeof path, "/proc/%ld/%s", host_pid, maps[i][0]);
    err = write_file(path, maps[i][1]);
  }
  if (err == 0) {
    snprintf(path, sizeof path, "/proc/%ld/ns/user", host_pid);
    if (idmap_userns >= 0) close(idmap_userns);
    idmap_userns = open(path, O_RDONLY | O_CLOEXEC);
    if (idmap_userns < 0) err = fail();
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  if (pidfd >= 0) close(pidfd);
  return err;
}

/* bind WHERE SOURCE TARGET RECURSIVE SET CLEAR RSET RCLEAR IDMAP [PROPAGATION...]: SOURCE is a host
 * path (WHERE "host", chosen by the bundle's author) or a path inside the container's root
 * ("root"). Its tree is cloned (open_tree), given its attributes while still detached (SET and
 * CLEAR on its top mount, RSET and RCLEAR on every mount of it: MOUNT_ATTR_* bits), the mount
 * point is made of its kind (a directory, or a file for a file), and the clone is moved onto
 * TARGET resolved inside the root; then the propagation flags (MS_*) are applied to it. */
static int bind_mount(int argc, char **a) {
  if (argc < 10) return EINVAL;
  unsigned recursive = number(a[4]) ? AT_RECURSIVE : 0;
  int tree;
  if (strcmp(a[1], "root") == 0) {
    int source = resolve(a[2], 0);
    if (source < 0) return -source;
    tree = clone_tree(source, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | recursive);
    int err = errno;
    close(source);
    errno = err;
  } else {
    tree = clone_tree(AT_FDCWD, a[2], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | recursive);
  }
  if (tree < 0) return fail();
  int err = 0;
  struct stat st;
  uint64_t set = number64(a[5]), clear = number64(a[6]), rset = number64(a[7]), rclear = number64(a[8]);
  if (fstat(tree, &st) != 0) err = fail();
  if (err == 0 && (set | clear) != 0 && set_mount_attr(tree, 0, set, clear, 0, -1) != 0) err = fail();
  if (err == 0 && (rset | rclear) != 0 && set_mount_attr(tree, AT_RECURSIVE, rset, rclear, 0, -1) != 0) err = fail();
  /* An id-mapped bind: the tree takes the user namespace i-idmap-userns made, top mount only
   * ("idmap") or every mount ("ridmap"). */
  int idmap = strcmp(a[9], "ridmap") == 0 ? AT_RECURSIVE : strcmp(a[9], "idmap") == 0 ? 0 : -1;
  if (err == 0 && idmap >= 0 && idmap_userns < 0) err = EBADF;
  if (err == 0 && idmap >= 0 && set_mount_attr(tree, (unsigned)idmap, MOUNT_ATTR_IDMAP, 0, 0, idmap_userns) != 0) err = fail();
  if (idmap >= 0 && idmap_userns >= 0) {
    close(idmap_userns);
    idmap_userns = -1;
  }
  if (err == 0) {
    if (S_ISDIR(st.st_mode)) {
      int dir = mkdir_in_root(a[3], 0755);
      if (dir < 0) err = -dir;
      else close(dir);
    } else {
      err = create_file_in_root(a[3]);
    }
  }
  if (err == 0) {
    int target = resolve(a[3], 0);
    if (target < 0) err = -target;
    else err = WITH_FD(target, attach_tree(tree, target) == 0 ? 0 : fail());
  }
  char path[32];
  for (int i = 10; err == 0 && i < argc; i++) {
    if (mount(NULL, fd_path(tree, path), NULL, number(a[i]), NULL) != 0) err = fail();
  }
  close(tree);
  return err;
}

/* setattr TARGET SET CLEAR RECURSIVE: set_mount_attr(2) on the mount at TARGET. */
static int setattr_in_root(char **a) {
  int fd = resolve(a[1], 0);
  if (fd < 0) return -fd;
  return WITH_FD(fd, set_mount_attr(fd, number(a[4]) ? AT_RECURSIVE : 0, number64(a[2]), number64(a[3]), 0, -1) == 0 ? 0 : fail());
}

/* mknod PATH MODE MAJOR MINOR UID GID: the node is made in its resolved parent (mknodat never
 * follows a last symlink), then opened without following and checked to be the node asked for
 * before its owner and mode are set through the descriptor: a name that already exists is
 * kept only if it is that very device. */
static int make_device(char **a) {
  mode_t mode = (mode_t)number(a[2]);
  dev_t dev = makedev(number(a[3]), number(a[4]));
  char name[256];
  int parent = parent_in_root(a[1], name, 1);
  if (parent < 0) return -parent;
  int err = 0;
  if (mknodat(parent, name, mode, dev) != 0 && errno != EEXIST) err = fail();
  int fd = err == 0 ? openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
  if (err == 0 && fd < 0) err = fail();
  close(parent);
  struct stat st;
  if (err == 0 && fstat(fd, &st) != 0) err = fail();
  if (err == 0 && ((st.st_mode & S_IFMT) != (mode & S_IFMT) || ((S_ISCHR(mode) || S_ISBLK(mode)) && st.st_rdev != dev))) err = EEXIST;
  if (err == 0 && fchownat(fd, "", (uid_t)number(a[5]), (gid_t)number(a[6]), AT_EMPTY_PATH) != 0) err = fail();
  char path[32];
  if (err == 0 && chmod(fd_path(fd, path), mode & 07777) != 0) err = fail();
  if (fd >= 0) close(fd);
  return err;
}

/* symlink TARGET PATH REPLACE: the link is made in PATH's resolved parent. A name that exists
 * is kept, or with REPLACE removed first (a file, a link, an empty directory: what runc's
 * os.Remove removes). */
static int make_symlink(const char *target, const char *path, int replace) {
  char name[256];
  int parent = parent_in_root(path, name, 0);
  if (parent < 0) return -parent;
  if (replace && unlinkat(parent, name, 0) != 0) {
    int err = errno;
    if (err == EISDIR) err = unlinkat(parent, name, AT_REMOVEDIR) == 0 ? 0 : errno;
    if (err != 0 && err != ENOENT) return WITH_FD(parent, err);
  }
  return WITH_FD(parent, symlinkat(target, parent, name) == 0 || errno == EEXIST ? 0 : fail());
}

/* no-symlink PATH: ELOOP if PATH's last component is a symlink (it may not exist). */
static int refuse_symlink(const char *path) {
  int fd = resolve(path, O_NOFOLLOW);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return -fd;
  struct stat st;
  return WITH_FD(fd, fstat(fd, &st) != 0 ? fail() : S_ISLNK(st.st_mode) ? ELOOP : 0);
}

/* maskedPaths: a directory is covered by an empty read-only tmpfs, anything else by the
 * container's /dev/null, which must be the null device itself (character 1:3, checked on the
 * very descriptor that is bound): an image's /dev/null may be a symlink to anything, a
 * /proc/sys file for one (CVE-2025-31133). ENODEV when it is not. A missing path needs no mask. */
static int mask_path(const char *path) {
  int fd = resolve(path, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return -fd;
  struct stat st;
  if (fstat(fd, &st) != 0) return WITH_FD(fd, fail());
  char buf[32];
  if (S_ISDIR(st.st_mode)) return WITH_FD(fd, mount("tmpfs", fd_path(fd, buf), "tmpfs", MS_RDONLY, NULL) == 0 ? 0 : fail());
  int null = resolve("/dev/null", 0);
  if (null < 0) return WITH_FD(fd, -null);
  int err = 0;
  if (fstat(null, &st) != 0) err = fail();
  else if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) err = ENODEV;
  int tree = err == 0 ? clone_tree(null, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH) : -1;
  if (err == 0 && tree < 0) err = fail();
  if (err == 0 && attach_tree(tree, fd) != 0) err = fail();
  if (tree >= 0) close(tree);
  close(null);
  close(fd);
  return err;
}

/* readonlyPaths: the tree at the path, cloned, made read-only while detached (every mount of
 * it, and only that attribute: locked ones stay), and moved over itself. Missing: nothing. */
static int readonly_path(const char *path) {
  int fd = resolve(path, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) return -fd;
  int tree = clone_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  int err = tree < 0 ? fail() : 0;
  if (err == 0 && set_mount_attr(tree, AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0, 0, -1) != 0) err = fail();
  if (err == 0 && attach_tree(tree, fd) != 0) err = fail();
  if (tree >= 0) close(tree);
  close(fd);
  return err;
}

/* propagate TARGET FLAGS: the propagation (MS_SHARED, ...) of the mount at TARGET. */
static int propagate_in_root(const char *target, unsigned long flags) {
  int fd = resolve(target, 0);
  if (fd < 0) return -fd;
  char path[32];
  return WITH_FD(fd, mount(NULL, fd_path(fd, path), NULL, flags, NULL) == 0 ? 0 : fail());
}

/* Copies the entries of directory `src` into directory `dst`, recursively: regular files,
 * directories, symlinks (as links) and special files, with their owner, mode and times. Every
 * name is opened relative to its verified parent without following symlinks. */
static int copy_tree(int src, int dst, int depth) {
  if (depth > 128) return ELOOP;
  int dup_src = fcntl(src, F_DUPFD_CLOEXEC, 0);
  DIR *dir = dup_src < 0 ? NULL : fdopendir(dup_src);
  if (dir == NULL) {
    int err = fail();
    if (dup_src >= 0) close(dup_src);
    return err;
  }
  int err = 0;
  struct dirent *entry;
  while (err == 0 && (errno = 0, entry = readdir(dir)) != NULL) {
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    struct stat st;
    if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      err = fail();
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, name, 0700) != 0) err = fail();
      int from = err == 0 ? openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      int to = err == 0 ? openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (err == 0 && (from < 0 || to < 0)) err = fail();
      if (err == 0) err = copy_tree(from, to, depth + 1);
      if (from >= 0) close(from);
      if (to >= 0) close(to);
    } else if (S_ISREG(st.st_mode)) {
      int from = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      int to = from < 0 ? -1 : openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (from < 0 || to < 0) err = fail();
      for (off_t left = st.st_size; err == 0 && left > 0;) {
        ssize_t n = sendfile(to, from, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
        if (n < 0) err = fail();
        else if (n == 0) break; /* the file shrank */
        else left -= n;
      }
      if (from >= 0) close(from);
      if (to >= 0) close(to);
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = readlinkat(src, name, target, sizeof target - 1);
      if (n < 0) err = fail();
      else {
        target[n] = '\0';
        if (symlinkat(target, dst, name) != 0) err = fail();
      }
    } else if (mknodat(dst, name, st.st_mode, st.st_rdev) != 0) {
      err = fail();
    }
    if (err == 0 && fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) err = fail();
    /* After the owner: chown clears the set-id bits. */
    if (err == 0 && !S_ISLNK(st.st_mode) && fchmodat(dst, name, st.st_mode & 07777, 0) != 0) err = fail();
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (err == 0 && utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW) != 0) err = fail();
  }
  if (err == 0 && errno != 0) err = errno;
  closedir(dir);
  return err;
}

/* The mount point of a tmpfs: PATH resolved inside the root, or created (0755) with whatever
 * it lacks. *mode is the mode of a directory that was there (permissions, set-id and sticky
 * bits), or -1 for one made here. Returns a descriptor, or -errno. */
static int tmpfs_mount_point(const char *path, int *mode) {
  int fd = resolve(path, 0);
  *mode = -1;
  if (fd == -ENOENT) return mkdir_in_root(path, 0755);
  if (fd < 0) return fd;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = fail();
    close(fd);
    return -err;
  }
  *mode = (int)(st.st_mode & 07777);
  return fd;
}

/* mount-tmpfs SOURCE TARGET FLAGS DATA: a tmpfs on TARGET (tmpfs_mount_point). A directory
 * that was there lends the tmpfs its mode, first among the options, so that a mode= of DATA
 * wins (runc 1.1.8 and later); a new one leaves the tmpfs its own (1777). */
static int mount_tmpfs(char **a) {
  int mode;
  int fd = tmpfs_mount_point(a[2], &mode);
  if (fd < 0) return -fd;
  char data[4096];
  int n = mode < 0 ? snprintf(data, sizeof data, "%s", a[4])
                   : snprintf(data, sizeof data, "mode=%04o%s%s", (unsigned)mode, a[4][0] != '\0' ? "," : "", a[4]);
  if (n < 0 || n >= (int)sizeof data) return WITH_FD(fd, E2BIG);
  char path[32];
  return WITH_FD(fd, mount(nullable(a[1]), fd_path(fd, path), "tmpfs", number(a[3]), nullable(data)) == 0 ? 0 : fail());
}

/* tmpcopyup PATH SOURCE ATTRS DATA: a new tmpfs over PATH holding a copy of what PATH held (runc's
 * and crun's "tmpcopyup", what `podman run --read-only` asks for /tmp and /run). The tmpfs is
 * made detached (fsopen, fsconfig with each DATA option, fsmount), filled, given its mount
 * attributes (ATTRS: MOUNT_ATTR_*; read-only only after the copy), and moved over PATH. Its
 * mode is PATH's, as with mount-tmpfs. */
static int tmpfs_copyup(char **a) {
  int mode;
  int dest = tmpfs_mount_point(a[1], &mode);
  if (dest < 0) return -dest;
  uint64_t attrs = number64(a[3]);
  int err = 0, fs = -1, mnt = -1, from = -1;
  fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0) err = fail();
  char data[4096];
  snprintf(data, sizeof data, "%s", a[4]);
  if (err == 0 && a[2][0] != '\0' && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", a[2], 0) != 0) err = fail();
  char covered[16];
  snprintf(covered, sizeof covered, "%04o", (unsigned)(mode < 0 ? 0 : mode));
  if (err == 0 && mode >= 0 && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", covered, 0) != 0) err = fail();
  for (char *save = NULL, *option = strtok_r(data, ",", &save); err == 0 && option != NULL; option = strtok_r(NULL, ",", &save)) {
    char *value = strchr(option, '=');
    if (value != NULL) *value++ = '\0';
    if (syscall(SYS_fsconfig, fs, value != NULL ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, option, value, 0) != 0) err = fail();
  }
  if (err == 0 && syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) err = fail();
  if (err == 0 && (mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, (unsigned)(attrs & ~(uint64_t)MOUNT_ATTR_RDONLY))) < 0) err = fail();
  if (err == 0 && (from = openat(dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) err = fail();
  if (err == 0) err = copy_tree(from, mnt, 0);
  if (err == 0 && (attrs & MOUNT_ATTR_RDONLY) && set_mount_attr(mnt, 0, MOUNT_ATTR_RDONLY, 0, 0, -1) != 0) err = fail();
  if (err == 0 && attach_tree(mnt, dest) != 0) err = fail();
  if (from >= 0) close(from);
  if (mnt >= 0) close(mnt);
  if (fs >= 0) close(fs);
  close(dest);
  return err;
}

/* chdir PATH: PATH resolved inside the process's root ("/"), then fchdir. */
static int chdir_in_root(const char *path) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return fail();
  int fd = resolve_in(root, path, O_DIRECTORY);
  close(root);
  if (fd < 0) return -fd;
  return WITH_FD(fd, fchdir(fd) == 0 ? 0 : fail());
}


/* The root is "/" now: later steps resolve their paths in it. */
static int reopen_root(void) {
  close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root_fd >= 0 ? 0 : fail();
}

/* pivot_root(".", "."): the old root ends up stacked under the new one and is detached at
 * once, so no path to the host's filesystem stays reachable. */
static int pivot_root_to(void) {
  if (fchdir(root_fd) != 0) return fail();
  if (syscall(SYS_pivot_root, ".", ".") != 0) return fail();
  if (umount2(".", MNT_DETACH) != 0) return fail();
  if (chdir("/") != 0) return fail();
  return reopen_root();
}

/* The fallback where pivot_root cannot work (a ramfs root): move the new root over "/". */
static int move_root_to(const char *newroot) {
  if (fchdir(root_fd) != 0) return fail();
  if (mount(newroot, "/", NULL, MS_MOVE, NULL) != 0) return fail();
  if (chroot(".") != 0) return fail();
  if (chdir("/") != 0) return fail();
  return reopen_root();
}

/* Without a mount namespace of its own (the caller's is shared): chroot to the root. */
static int chroot_to_root(void) {
  if (fchdir(root_fd) != 0 || chroot(".") != 0 || chdir("/") != 0) return fail();
  return reopen_root();
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

/* close-fds FIRST: every descriptor from FIRST on is marked close-on-exec rather than closed
 * (the exec error pipe must survive until execve). close_range where the kernel has it (5.11
 * for CLOSE_RANGE_CLOEXEC) and no filter refuses it (EPERM: a seccomp profile of an outer
 * sandbox); else one fcntl per descriptor listed in /proc/self/fd, as runc does. */
static int cloexec_from(int first) {
  if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  if (errno != ENOSYS && errno != EPERM && errno != EINVAL) return fail();
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) return fail();
  int err = 0;
  struct dirent *entry;
  while ((errno = 0, entry = readdir(dir)) != NULL) {
    char *end;
    long fd = strtol(entry->d_name, &end, 10);
    if (*end != '\0' || end == entry->d_name || fd < first || fd == dirfd(dir)) continue;
    /* EBADF: a descriptor listed before it was closed (none here: one thread). */
    if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0 && errno != EBADF) {
      err = fail();
      break;
    }
  }
  if (err == 0 && errno != 0) err = fail();
  closedir(dir);
  return err;
}

int seccomp_listener = -1;
int seccomp_agent = -1;

/* seccomp-agent PATH: a connection to the unix (stream) socket of a seccomp agent. */
static int connect_agent(const char *path) {
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) return ENAMETOOLONG;
  strcpy(addr.sun_path, path);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail();
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr) != 0) return WITH_FD(sock, fail());
  if (seccomp_agent >= 0) close(seccomp_agent);
  seccomp_agent = sock;
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
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
  int err = rc < 0 ? fail() : 0;
  /* With SECCOMP_FILTER_FLAG_NEW_LISTENER the call returns the listener (close-on-exec). */
  if (rc >= 0 && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) seccomp_listener = (int)rc;
  free(bytes);
  return err;
}

/* "HOME=..." found by u-home, which exec adds to the environment; empty when there is none. */
static char home_env[4096];

/* home UID DEFAULT: the home directory of the first entry for UID in the container's
 * /etc/passwd (name:password:uid:gid:gecos:home:shell), else DEFAULT, kept for exec. The file
 * is opened inside the root like any path of the container, so that a symlink there never
 * leads to a file of the host; a file that cannot be read means DEFAULT (as runc's lookup). */
static int find_home(const char *uid, const char *fallback) {
  snprintf(home_env, sizeof home_env, "HOME=%s", fallback);
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return fail();
  int fd = open_in(root, "/etc/passwd", O_RDONLY);
  close(root);
  FILE *passwd = fd < 0 ? NULL : fdopen(fd, "r");
  if (passwd == NULL) {
    if (fd >= 0) close(fd);
    return 0;
  }
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, passwd) >= 0) {
    char *fields[7] = {0};
    int n = 0;
    char *rest = line;
    rest[strcspn(rest, "\r\n")] = '\0';
    while (n < 7) {
      fields[n++] = rest;
      char *colon = strchr(rest, ':');
      if (colon == NULL) break;
      *colon = '\0';
      rest = colon + 1;
    }
    char *end;
    if (n < 3 || fields[2][0] == '\0') continue;
    unsigned long entry = strtoul(fields[2], &end, 10);
    if (*end != '\0' || entry != strtoul(uid, NULL, 10)) continue;
    snprintf(home_env, sizeof home_env, "HOME=%s", n > 5 ? fields[5] : "");
    break;
  }
  free(line);
  fclose(passwd);
  return 0;
}

/* exec N <path-candidates x N> M <argv x M> <env...>: counted, not separated, since any
 * argument may be "--" (podman --init runs "/run/podman-init -- CMD"). The candidates come
 * from the builder's PATH search; the first executable one is run, with HOME added if u-home
 * found one. */
static int exec_process(int argc, char **argv) {
  char *end;
  long candidates = argc > 1 ? strtol(argv[1], &end, 10) : -1;
  if (candidates < 0 || *end != '\0' || 2 + candidates >= argc) return EINVAL;
  int args_at = 2 + (int)candidates;
  long count = strtol(argv[args_at], &end, 10);
  if (count < 1 || *end != '\0' || args_at + 1 + count > argc) return EINVAL;
  char path[4096];
  /* find_executable skips its argv[0]: here the count. */
  int err = find_executable(1 + (int)candidates, &argv[1], path, sizeof path);
  if (err != 0) return err;
  char **args = calloc((size_t)count + 1, sizeof(char *));
  if (args == NULL) return ENOMEM;
  memcpy(args, &argv[args_at + 1], (size_t)count * sizeof(char *));
  char **env = &argv[args_at + 1 + count];
  if (home_env[0] != '\0') {
    int env_count = argc - (args_at + 1 + (int)count);
    char **with_home = calloc((size_t)env_count + 2, sizeof(char *));
    if (with_home == NULL) return ENOMEM;
    memcpy(with_home, env, (size_t)env_count * sizeof(char *));
    with_home[env_count] = home_env;
    env = with_home;
  }
  execve(path, args, env);
  return fail();
}

/* link-up NAME: sets the interface up in our network namespace (SIOCSIFFLAGS). */
static int link_up(const char *name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  if (strlen(name) >= sizeof ifr.ifr_name) return ENAMETOOLONG;
  strcpy(ifr.ifr_name, name);
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail();
  int err = 0;
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0) {
    err = fail();
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0) err = fail();
  }
  close(sock);
  return err;
}

int op_run(struct op *op) {
  char **a = op->argv;
  const char *name = a[0] + 2; /* past the phase prefix */
  errno = 0;
  if (strcmp(name, "mount-path") == 0) {
    return mount(nullable(a[1]), a[2], nullable(a[3]), number(a[4]), nullable(a[5])) == 0 ? 0 : fail();
  }
  if (strcmp(name, "open-root") == 0) {
    if (root_fd >= 0) close(root_fd);
    root_fd = open(a[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root_fd >= 0 ? 0 : fail();
  }
  if (strcmp(name, "mount") == 0) return mount_in_root(nullable(a[1]), a[2], nullable(a[3]), number(a[4]), nullable(a[5]));
  if (strcmp(name, "bind") == 0) return bind_mount(op->argc, a);
  if (strcmp(name, "setattr") == 0) return setattr_in_root(a);
  if (strcmp(name, "idmap-userns") == 0) return make_idmap_userns(a[1], a[2]);
  if (strcmp(name, "propagate") == 0) return propagate_in_root(a[1], number(a[2]));
  if (strcmp(name, "tmpcopyup") == 0) return tmpfs_copyup(a);
  if (strcmp(name, "mount-tmpfs") == 0) return mount_tmpfs(a);
  if (strcmp(name, "remount-ro") == 0) return remount_ro(a[1], number(a[2]));
  if (strcmp(name, "mkdirs") == 0) {
    int fd = mkdir_in_root(a[1], (mode_t)number(a[2]));
    return fd < 0 ? -fd : WITH_FD(fd, 0);
  }
  if (strcmp(name, "mknod") == 0) return make_device(a);
  if (strcmp(name, "symlink") == 0) return make_symlink(a[1], a[2], op->argc > 3 && number(a[3]) != 0);
  if (strcmp(name, "no-symlink") == 0) return refuse_symlink(a[1]);
  if (strcmp(name, "mask") == 0) return mask_path(a[1]);
  if (strcmp(name, "readonly") == 0) return readonly_path(a[1]);
  if (strcmp(name, "write") == 0) return write_file(a[1], a[2]);
  if (strcmp(name, "write-proc") == 0) return write_proc_file(a[1], a[2]);
  if (strcmp(name, "personality") == 0) return personality(number(a[1])) == -1 ? fail() : 0;
  if (strcmp(name, "sysctl") == 0) return write_sysctl(a[1], a[2], a[3]);
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
  if (strcmp(name, "link-up") == 0) return link_up(a[1]);
  if (strcmp(name, "sethostname") == 0) return sethostname(a[1], strlen(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "setdomainname") == 0) return setdomainname(a[1], strlen(a[1])) == 0 ? 0 : fail();
  if (strcmp(name, "pivot-root") == 0) return pivot_root_to();
  if (strcmp(name, "move-root") == 0) return move_root_to(a[1]);
  if (strcmp(name, "chroot") == 0) return chroot_to_root();
  if (strcmp(name, "chdir") == 0) return chdir_in_root(a[1]);
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
  if (strcmp(name, "close-fds") == 0) return cloexec_from((int)number(a[1]));
  if (strcmp(name, "seccomp") == 0) return load_seccomp(number(a[1]), a[2]);
  if (strcmp(name, "seccomp-agent") == 0) return connect_agent(a[1]);
  if (strcmp(name, "home") == 0) return find_home(a[1], a[2]);
  if (strcmp(name, "exec") == 0) return exec_process(op->argc, a);
  return ENOSYS;
}
