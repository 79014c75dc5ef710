/*
 * runcell-probe: prints, as one JSON object on stdout, what a container's process sees. The
 * conformance harness (test/conformance/) runs it under runc and under runcell on the same
 * bundle and compares the two reports field by field.
 *
 *   runcell-probe [masked=PATH]... [readonly=PATH]... [path=PATH]... [sysctl=KEY]...
 *
 * masked= and readonly= replace the default lists (runc's default spec); path= adds a path to
 * describe; sysctl= adds a sysctl to the default list.
 *
 * Robustness rule: every field that cannot be read is reported as {"error": "ENAME"}, never a
 * crash, never a silently missing key. The probe changes nothing (write permission is asked
 * with access(2), not tried), so it can look at /proc/sys without touching the host.
 *
 * Output shape (version 1). Each top-level key is one area; within an area, keys are stable
 * names (a path, a sysctl, an rlimit), so fields compare one by one and new areas can be added
 * without disturbing old ones:
 *   probe, mounts[], masked{}, readonly{}, paths{}, dev[], cwd, identity{}, status{},
 *   rlimits{}, umask, env[], uts{}, sysctls{}, oomScoreAdj, personality
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

/* ---- JSON output ------------------------------------------------------------------------ */

/* Whether the next value in the current object or array needs a comma before it. */
static bool need_comma[64];
static int depth;

static void comma(void) {
  if (need_comma[depth]) putchar(',');
  need_comma[depth] = true;
}

static void raw_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    switch (*p) {
      case '"': fputs("\\\"", stdout); break;
      case '\\': fputs("\\\\", stdout); break;
      case '\n': fputs("\\n", stdout); break;
      case '\t': fputs("\\t", stdout); break;
      default:
        /* Control bytes and bytes outside ASCII (not necessarily UTF-8) as \u00XX, so the
         * output is always valid JSON. */
        if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
        else putchar(*p);
    }
  }
  putchar('"');
}

static void key(const char *k) {
  comma();
  raw_string(k);
  putchar(':');
  need_comma[depth] = true;
}

static void open_object(const char *k) {
  if (k != NULL) key(k);
  else comma();
  putchar('{');
  need_comma[++depth] = false;
}

static void open_array(const char *k) {
  if (k != NULL) key(k);
  else comma();
  putchar('[');
  need_comma[++depth] = false;
}

static void close_object(void) { depth--; putchar('}'); }
static void close_array(void) { depth--; putchar(']'); }

/* A value: as a member of an object (k != NULL) or an element of an array. */
static void value_prefix(const char *k) {
  if (k != NULL) {
    key(k);
  } else {
    comma();
  }
}

static void string_value(const char *k, const char *s) {
  value_prefix(k);
  raw_string(s);
}

static void int_value(const char *k, long long n) {
  value_prefix(k);
  printf("%lld", n);
}

static const char *errno_name(int e) {
  const char *name = strerrorname_np(e);
  static char buf[32];
  if (name != NULL) return name;
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

/* {"error": "ENOENT"}: the one shape of a field that could not be read. */
static void error_value(const char *k, int e) {
  open_object(k);
  string_value("error", errno_name(e));
  close_object();
}

/* ---- small helpers ---------------------------------------------------------------------- */

/* Reads a whole (small) file into buf, NUL-terminated; returns 0 or an errno. */
static int read_file(const char *path, char *buf, size_t size, size_t *length) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t used = 0;
  for (;;) {
    if (used + 1 >= size) break;
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e;
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  close(fd);
  buf[used] = '\0';
  if (length != NULL) *length = used;
  return 0;
}

static void chomp(char *s) {
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ')) s[--n] = '\0';
}

static char type_letter(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'f';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    default: return '?';
  }
}

static void mode_value(const char *k, mode_t mode) {
  char buf[16];
  snprintf(buf, sizeof buf, "%04o", (unsigned)(mode & 07777));
  string_value(k, buf);
}

static void type_value(const char *k, mode_t mode) {
  char buf[2] = { type_letter(mode), '\0' };
  string_value(k, buf);
}

static void rdev_value(const char *k, dev_t rdev) {
  char buf[32];
  snprintf(buf, sizeof buf, "%u:%u", major(rdev), minor(rdev));
  string_value(k, buf);
}

static const char *fs_name(unsigned long type) {
  static char buf[32];
  switch (type) {
    case 0x01021994: return "tmpfs";
    case 0x9fa0: return "proc";
    case 0x62656572: return "sysfs";
    case 0x1cd1: return "devpts";
    case 0x19800202: return "mqueue";
    case 0x27e0eb: return "cgroup";
    case 0x63677270: return "cgroup2";
    case 0xef53: return "ext4";
    case 0x794c7630: return "overlay";
    case 0x858458f6: return "ramfs";
    case 0x58465342: return "xfs";
    case 0x9123683e: return "btrfs";
    case 0x64626720: return "debugfs";
    case 0x73636673: return "securityfs";
    case 0x74726163: return "tracefs";
    case 0xcafe4a11: return "bpf";
    case 0x6e736673: return "nsfs";
    case 0x42494e4d: return "binfmt_misc";
    case 0x65735546: return "fuse";
    default:
      snprintf(buf, sizeof buf, "0x%lx", type);
      return buf;
  }
}

static const struct { unsigned long flag; const char *name; } ST_FLAGS[] = {
  { ST_RDONLY, "ro" }, { ST_NOSUID, "nosuid" }, { ST_NODEV, "nodev" }, { ST_NOEXEC, "noexec" },
  { ST_SYNCHRONOUS, "sync" }, { ST_MANDLOCK, "mand" }, { ST_NOATIME, "noatime" },
  { ST_NODIRATIME, "nodiratime" }, { ST_RELATIME, "relatime" },
#ifdef ST_NOSYMFOLLOW
  { ST_NOSYMFOLLOW, "nosymfollow" },
#else
  { 0x2000, "nosymfollow" },
#endif
};

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- one path --------------------------------------------------------------------------- */

#define MAX_ENTRIES 64

/* What a path looks like and how it behaves: its own inode (lstat), a symlink's target, what
 * the filesystem under it is (statfs, statvfs flags), whether writing is allowed (access W_OK:
 * EROFS on a read-only mount, without writing), whether it reads (empty or not), and a
 * directory's sorted entries. */
static void describe_path(const char *k, const char *path) {
  open_object(k);
  struct stat st;
  if (lstat(path, &st) != 0) {
    error_value("lstat", errno);
    close_object();
    return;
  }
  open_object("lstat");
  type_value("type", st.st_mode);
  mode_value("mode", st.st_mode);
  int_value("uid", st.st_uid);
  int_value("gid", st.st_gid);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) rdev_value("rdev", st.st_rdev);
  close_object();
  if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
      error_value("target", errno);
    } else {
      target[n] = '\0';
      string_value("target", target);
    }
  }
  struct statfs sfs;
  if (statfs(path, &sfs) != 0) error_value("fs", errno);
  else string_value("fs", fs_name((unsigned long)sfs.f_type));
  struct statvfs svfs;
  if (statvfs(path, &svfs) != 0) {
    error_value("flags", errno);
  } else {
    open_array("flags");
    for (size_t i = 0; i < sizeof ST_FLAGS / sizeof ST_FLAGS[0]; i++) {
      if (svfs.f_flag & ST_FLAGS[i].flag) string_value(NULL, ST_FLAGS[i].name);
    }
    close_array();
  }
  if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) string_value("write", errno_name(errno));
  else string_value("write", "ok");

  if (S_ISDIR(st.st_mode)) {
    DIR *dir = opendir(path);
    if (dir == NULL) {
      error_value("entries", errno);
    } else {
      char *names[MAX_ENTRIES];
      size_t count = 0, total = 0;
      struct dirent *entry;
      errno = 0;
      while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
        if (count < MAX_ENTRIES) names[count++] = strdup(entry->d_name);
        total++;
      }
      int e = errno;
      closedir(dir);
      if (e != 0) {
        error_value("entries", e);
      } else {
        /* Sorted: readdir's order is the filesystem's, not something to compare. */
        qsort(names, count, sizeof names[0], compare_strings);
        open_array("entries");
        for (size_t i = 0; i < count; i++) string_value(NULL, names[i] != NULL ? names[i] : "?");
        if (total > count) string_value(NULL, "...");
        close_array();
      }
      for (size_t i = 0; i < count; i++) free(names[i]);
    }
  } else if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) {
    /* Only whether it reads, and whether anything comes: the amount of a /proc file varies. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      error_value("read", errno);
    } else {
      char buf[256];
      ssize_t n = S_ISCHR(st.st_mode) && major(st.st_rdev) != 1 ? 0 : read(fd, buf, sizeof buf);
      if (n < 0) error_value("read", errno);
      else if (S_ISCHR(st.st_mode) && major(st.st_rdev) != 1) string_value("read", "opened");
      else string_value("read", n == 0 ? "empty" : "data");
      close(fd);
    }
  }
  close_object();
}

/* ---- areas ------------------------------------------------------------------------------ */

/* Splits s at the first space into s (the field, NUL-terminated) and the rest. */
static char *next_field(char **s) {
  char *start = *s;
  if (start == NULL) return NULL;
  char *space = strchr(start, ' ');
  if (space != NULL) {
    *space = '\0';
    *s = space + 1;
  } else {
    *s = NULL;
  }
  return start;
}

/* /proc/self/mountinfo, in order, one object per line (proc(5)):
 * 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue */
static void mounts(void) {
  static char buf[1 << 20];
  int e = read_file("/proc/self/mountinfo", buf, sizeof buf, NULL);
  if (e != 0) {
    error_value("mounts", e);
    return;
  }
  open_array("mounts");
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    char *rest = line;
    char *id = next_field(&rest), *parent = next_field(&rest), *dev = next_field(&rest);
    char *root = next_field(&rest), *point = next_field(&rest), *options = next_field(&rest);
    open_object(NULL);
    if (options == NULL) {
      string_value("unparsed", line);
      close_object();
      continue;
    }
    int_value("id", atoll(id));
    int_value("parent", atoll(parent));
    string_value("dev", dev);
    string_value("root", root);
    string_value("mountPoint", point);
    string_value("options", options);
    open_array("propagation");
    char *field;
    while ((field = next_field(&rest)) != NULL && strcmp(field, "-") != 0) string_value(NULL, field);
    close_array();
    char *type = next_field(&rest), *source = next_field(&rest), *super = rest;
    string_value("fsType", type != NULL ? type : "");
    string_value("source", source != NULL ? source : "");
    string_value("superOptions", super != NULL ? super : "");
    close_object();
  }
  close_array();
}

#define MAX_DEV_ENTRIES 512

/* /dev, recursively (sorted at every level), without following links. */
static int dev_count;
static void dev_walk(const char *dir_path, const char *relative, int level) {
  DIR *dir = opendir(dir_path);
  if (dir == NULL) {
    open_object(NULL);
    string_value("name", relative);
    error_value("list", errno);
    close_object();
    return;
  }
  char *names[MAX_DEV_ENTRIES];
  size_t count = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL && count < MAX_DEV_ENTRIES) {
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    names[count++] = strdup(entry->d_name);
  }
  closedir(dir);
  qsort(names, count, sizeof names[0], compare_strings);
  for (size_t i = 0; i < count; i++) {
    if (names[i] == NULL) continue;
    char full[PATH_MAX], rel[PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", dir_path, names[i]);
    snprintf(rel, sizeof rel, "%s%s%s", relative, relative[0] != '\0' ? "/" : "", names[i]);
    free(names[i]);
    if (++dev_count > MAX_DEV_ENTRIES) continue;
    struct stat st;
    open_object(NULL);
    string_value("name", rel);
    if (lstat(full, &st) != 0) {
      error_value("lstat", errno);
      close_object();
      continue;
    }
    type_value("type", st.st_mode);
    mode_value("mode", st.st_mode);
    int_value("uid", st.st_uid);
    int_value("gid", st.st_gid);
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) rdev_value("rdev", st.st_rdev);
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(full, target, sizeof target - 1);
      if (n < 0) {
        error_value("target", errno);
      } else {
        target[n] = '\0';
        string_value("target", target);
      }
    }
    close_object();
    if (S_ISDIR(st.st_mode) && level < 3) dev_walk(full, rel, level + 1);
  }
}

static void dev(void) {
  open_array("dev");
  dev_count = 0;
  dev_walk("/dev", "", 0);
  if (dev_count > MAX_DEV_ENTRIES) string_value(NULL, "...");
  close_array();
}

static void cwd(void) {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == NULL) error_value("cwd", errno);
  else string_value("cwd", buf);
}

static void identity(void) {
  open_object("identity");
  int_value("pid", getpid());
  int_value("ppid", getppid());
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) != 0) {
    error_value("uid", errno);
  } else {
    open_array("uid");
    int_value(NULL, ru); int_value(NULL, eu); int_value(NULL, su);
    close_array();
  }
  if (getresgid(&rg, &eg, &sg) != 0) {
    error_value("gid", errno);
  } else {
    open_array("gid");
    int_value(NULL, rg); int_value(NULL, eg); int_value(NULL, sg);
    close_array();
  }
  gid_t groups[NGROUPS_MAX];
  int n = getgroups(NGROUPS_MAX, groups);
  if (n < 0) {
    error_value("groups", errno);
  } else {
    open_array("groups");
    for (int i = 0; i < n; i++) int_value(NULL, groups[i]);
    close_array();
  }
  close_object();
}

/* Lines of /proc/self/status: the capability sets, no_new_privs, seccomp, the umask, the pid
 * namespaces the process is in (NSpid shows whether /proc is the process's own namespace's). */
static const char *STATUS_KEYS[] = {
  "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters",
  "Umask", "NSpid", "NSsid", "Speculation_Store_Bypass",
};

static void status(void) {
  static char buf[16384];
  int e = read_file("/proc/self/status", buf, sizeof buf, NULL);
  if (e != 0) {
    error_value("status", e);
    return;
  }
  open_object("status");
  for (size_t i = 0; i < sizeof STATUS_KEYS / sizeof STATUS_KEYS[0]; i++) {
    const char *wanted = STATUS_KEYS[i];
    size_t len = strlen(wanted);
    const char *found = NULL;
    for (const char *line = buf; line != NULL && *line != '\0';) {
      if (strncmp(line, wanted, len) == 0 && line[len] == ':') {
        found = line + len + 1;
        break;
      }
      line = strchr(line, '\n');
      if (line != NULL) line++;
    }
    if (found == NULL) {
      error_value(wanted, ENOENT);
      continue;
    }
    while (*found == ' ' || *found == '\t') found++;
    char value[256];
    size_t n = strcspn(found, "\n");
    if (n >= sizeof value) n = sizeof value - 1;
    memcpy(value, found, n);
    value[n] = '\0';
    for (char *p = value; *p != '\0'; p++) if (*p == '\t') *p = ' ';
    string_value(wanted, value);
  }
  close_object();
}

static const char *RLIMIT_NAMES[] = {
  "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
  "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
  "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

static void limit_text(char *buf, size_t size, rlim_t v) {
  if (v == RLIM_INFINITY) snprintf(buf, size, "unlimited");
  else snprintf(buf, size, "%llu", (unsigned long long)v);
}

static void rlimits(void) {
  open_object("rlimits");
  for (int r = 0; r < (int)(sizeof RLIMIT_NAMES / sizeof RLIMIT_NAMES[0]); r++) {
    struct rlimit limit;
    if (getrlimit(r, &limit) != 0) {
      error_value(RLIMIT_NAMES[r], errno);
      continue;
    }
    char soft[32], hard[32], both[80];
    limit_text(soft, sizeof soft, limit.rlim_cur);
    limit_text(hard, sizeof hard, limit.rlim_max);
    snprintf(both, sizeof both, "%s/%s", soft, hard);
    string_value(RLIMIT_NAMES[r], both);
  }
  close_object();
}

static void umask_value(void) {
  mode_t mask = umask(0);
  umask(mask);
  mode_value("umask", mask);
}

static void env(void) {
  open_array("env");
  for (char **e = environ; e != NULL && *e != NULL; e++) string_value(NULL, *e);
  close_array();
}

static void uts(void) {
  struct utsname u;
  if (uname(&u) != 0) {
    error_value("uts", errno);
    return;
  }
  open_object("uts");
  string_value("hostname", u.nodename);
  string_value("domainname", u.domainname);
  close_object();
}

static const char *DEFAULT_SYSCTLS[] = {
  "kernel.hostname", "kernel.domainname", "kernel.shmmax", "kernel.shmall", "kernel.shmmni",
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "fs.mqueue.msg_max",
  "fs.mqueue.queues_max", "net.ipv4.ip_forward", "net.ipv4.ping_group_range",
  "net.ipv4.ip_unprivileged_port_start", "net.core.somaxconn",
};

static void sysctl_value(const char *name) {
  char path[PATH_MAX] = "/proc/sys/";
  size_t at = strlen(path);
  for (const char *p = name; *p != '\0' && at + 1 < sizeof path; p++) path[at++] = *p == '.' ? '/' : *p;
  path[at] = '\0';
  char buf[4096];
  int e = read_file(path, buf, sizeof buf, NULL);
  if (e != 0) {
    error_value(name, e);
    return;
  }
  chomp(buf);
  for (char *p = buf; *p != '\0'; p++) if (*p == '\t') *p = ' ';
  string_value(name, buf);
}

static void oom_score_adj(void) {
  char buf[64];
  int e = read_file("/proc/self/oom_score_adj", buf, sizeof buf, NULL);
  if (e != 0) {
    error_value("oomScoreAdj", e);
    return;
  }
  chomp(buf);
  string_value("oomScoreAdj", buf);
}

static void personality_value(void) {
  int p = personality(0xffffffff);
  if (p < 0) {
    error_value("personality", errno);
    return;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "0x%x", (unsigned)p);
  string_value("personality", buf);
}

/* ---- main ------------------------------------------------------------------------------- */

/* runc's default spec (`runc spec`). */
static const char *DEFAULT_MASKED[] = {
  "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};
static const char *DEFAULT_READONLY[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

#define MAX_ARGS 256

int main(int argc, char **argv) {
  static char out[1 << 20];
  setvbuf(stdout, out, _IOFBF, sizeof out);
  const char *masked[MAX_ARGS], *readonly[MAX_ARGS], *paths[MAX_ARGS], *sysctls[MAX_ARGS];
  int n_masked = 0, n_readonly = 0, n_paths = 0, n_sysctls = 0;
  bool masked_given = false, readonly_given = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "masked=", 7) == 0 && n_masked < MAX_ARGS) {
      masked_given = true;
      if (a[7] != '\0') masked[n_masked++] = a + 7;
    } else if (strncmp(a, "readonly=", 9) == 0 && n_readonly < MAX_ARGS) {
      readonly_given = true;
      if (a[9] != '\0') readonly[n_readonly++] = a + 9;
    } else if (strncmp(a, "path=", 5) == 0 && n_paths < MAX_ARGS) {
      paths[n_paths++] = a + 5;
    } else if (strncmp(a, "sysctl=", 7) == 0 && n_sysctls < MAX_ARGS) {
      sysctls[n_sysctls++] = a + 7;
    } else {
      fprintf(stderr, "runcell-probe: unknown argument \"%s\"\n", a);
      return 2;
    }
  }
  if (!masked_given) {
    for (size_t i = 0; i < sizeof DEFAULT_MASKED / sizeof DEFAULT_MASKED[0]; i++) masked[n_masked++] = DEFAULT_MASKED[i];
  }
  if (!readonly_given) {
    for (size_t i = 0; i < sizeof DEFAULT_READONLY / sizeof DEFAULT_READONLY[0]; i++) readonly[n_readonly++] = DEFAULT_READONLY[i];
  }

  /* The umask first: nothing below changes it, but read it before anything else could. */
  depth = 0;
  need_comma[0] = false;
  putchar('{');
  need_comma[++depth] = false;
  int_value("probe", 1);
  umask_value();
  cwd();
  mounts();
  open_object("masked");
  for (int i = 0; i < n_masked; i++) describe_path(masked[i], masked[i]);
  close_object();
  open_object("readonly");
  for (int i = 0; i < n_readonly; i++) describe_path(readonly[i], readonly[i]);
  close_object();
  open_object("paths");
  for (int i = 0; i < n_paths; i++) describe_path(paths[i], paths[i]);
  close_object();
  dev();
  identity();
  status();
  rlimits();
  env();
  uts();
  open_object("sysctls");
  for (size_t i = 0; i < sizeof DEFAULT_SYSCTLS / sizeof DEFAULT_SYSCTLS[0]; i++) sysctl_value(DEFAULT_SYSCTLS[i]);
  for (int i = 0; i < n_sysctls; i++) sysctl_value(sysctls[i]);
  close_object();
  oom_score_adj();
  personality_value();
  close_object();
  putchar('\n');
  if (fflush(stdout) != 0) return 1;
  return 0;
}
