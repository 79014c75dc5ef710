/*
 * runcell-init: the container's native processes, one single-threaded executable.
 *
 *   runcell-init gofer PLAN_FD REPORT_FD
 *
 * Gofer (host side, started by `runcell create`): reads the launch plan, clones the init into
 * the container's namespaces with the calling CLI as the init's parent (CLONE_PARENT), writes
 * the user-namespace maps, reports "ready <init pid>" or "error <step> <errno>" on REPORT_FD,
 * and waits for "commit" on PLAN_FD (EOF instead means the CLI died: it kills the init and
 * leaves). Then it detaches from the caller's stdio and session, opens the start gate on
 * `runcell start`, relays the start result, and when the init reports the exit status (or its
 * socket reaches EOF: SIGKILLed, 137) writes the exit record atomically and exits.
 *
 *   runcell-init exec PLAN_FD REPORT_FD
 *
 * Exec helper (started by `runcell exec`): see exec_helper() below.
 *
 * Init (pid 1 of the sandbox's pid namespace when there is a new one): runs the init steps of
 * the plan (the root filesystem, through descriptors: resolve.c), clones the user's process
 * early (into a nested pid namespace where the plan says so) and has it mount procfs in its
 * turn, waits at the start gate, lets the user's process go, reaps it, reports its status and
 * exits with it.
 *
 * The user's process runs the user steps (rlimits, identity, capabilities, ...) and execs; a
 * failure is reported through a close-on-exec pipe, whose EOF means execve succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops.h"
#include "plan.h"
#include "protocol.h"
#include "cleanup.h"

static struct plan plan;

/* The command line as the kernel shows it (ps, /proc/PID/cmdline). */
static int main_argc;
static char **main_argv;

/* The init is a clone of the gofer and would show as "runcell-init gofer 3 4": make it read
 * "runcell-init init", rewriting the arguments in place (the kernel reads them from memory). */
static void show_as(const char *role) {
  if (main_argc < 2) return;
  char *start = main_argv[1];
  char *end = main_argv[main_argc - 1] + strlen(main_argv[main_argc - 1]);
  size_t len = strlen(role);
  if ((size_t)(end - start) < len) return;
  memset(start, 0, end - start);
  memcpy(start, role, len);
}

static void show_as_init(void) {
  show_as("init");
}

static void write_all(int fd, const char *s);
static int status_of(int wstatus);

/* Closes fd, returns err. */
static int close_with(int fd, int err) {
  close(fd);
  return err;
}

/* The OCI state handed to hooks on stdin: set by the CLI at the hooks sync point (create) and
 * with the start gate (start). */
static char hook_state[65536];

/* A hook (i-hook, u-hook): timeout_seconds path argc argv... envc env...; the state on stdin.
 * Returns 0, ETIMEDOUT, an errno of fork/exec, or 1000 + the hook's non-zero exit status. */
static int run_hook(struct op *op) {
  int timeout = atoi(op->argv[1]);
  const char *file = op->argv[2];
  int argc = atoi(op->argv[3]);
  if (4 + argc >= op->argc) return EINVAL;
  int envc = atoi(op->argv[4 + argc]);
  if (5 + argc + envc > op->argc) return EINVAL;
  char **args = calloc(argc + 1, sizeof(char *));
  char **env = calloc(envc + 1, sizeof(char *));
  if (args == NULL || env == NULL) return ENOMEM;
  for (int i = 0; i < argc; i++) args[i] = op->argv[4 + i];
  for (int i = 0; i < envc; i++) env[i] = op->argv[5 + argc + i];
  int in[2], report[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) return errno;
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    dup2(in[0], 0);
    execve(file, args, env);
    int err = errno;
    ssize_t ignored = write(report[1], &err, sizeof err);
    (void)ignored;
    _exit(127);
  }
  close(in[0]);
  close(report[1]);
  write_all(in[1], hook_state);
  close(in[1]);
  int exec_err = 0;
  if (read(report[0], &exec_err, sizeof exec_err) != sizeof exec_err) exec_err = 0;
  close(report[0]);
  int wstatus = 0;
  for (int waited_ms = 0;; waited_ms += 10) {
    pid_t done = waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return errno;
    if (timeout > 0 && waited_ms >= timeout * 1000) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      return ETIMEDOUT;
    }
    usleep(10000);
  }
  free(args);
  free(env);
  if (exec_err != 0) return exec_err;
  int status = status_of(wstatus);
  return status == 0 ? 0 : 1000 + status;
}

/* The terminal's slave side, opened by the init (i-pty) for the user's process (u-console). */
static int pty_slave = -1;

/* Sends one message with one descriptor attached (SCM_RIGHTS). */
static int send_fd(int sock, const char *text, int fd) {
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct iovec iov = {(void *)text, strlen(text)};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

/* One message, and the descriptor it carries (or -1). */
static ssize_t recv_msg_fd(int sock, char *buf, size_t size, int *fd) {
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {buf, size - 1};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  buf[n > 0 ? n : 0] = '\0';
  *fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(fd, CMSG_DATA(c), sizeof(int));
  }
  return n;
}

/* i-pty, x-pty: a terminal from the container's own devpts; the master goes to `sock` (the
 * gofer's end, or the caller's console socket), the slave stays for the user's process. */
static int open_pty(int sock, const char *payload) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return errno;
  int unlock = 0, number = -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0 || ioctl(master, TIOCGPTN, &number) != 0) {
    int err = errno;
    close(master);
    return err;
  }
  char slave_path[64];
  snprintf(slave_path, sizeof slave_path, "/dev/pts/%d", number);
  pty_slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  int err = pty_slave < 0 ? errno : send_fd(sock, payload, master);
  close(master);
  return err;
}

/* u-console [rows cols]: the terminal becomes the controlling terminal and stdio. */
static int attach_console(struct op *op) {
  if (pty_slave < 0) return EBADF;
  if (op->argc >= 3) {
    struct winsize size = {(unsigned short)atoi(op->argv[1]), (unsigned short)atoi(op->argv[2]), 0, 0};
    if (ioctl(pty_slave, TIOCSWINSZ, &size) != 0) return errno;
  }
  if (ioctl(pty_slave, TIOCSCTTY, 0) != 0) return errno;
  for (int fd = 0; fd <= 2; fd++) {
    if (dup2(pty_slave, fd) < 0) return errno;
  }
  close(pty_slave);
  return 0;
}

static const char *opt(const char *name, int arg) {
  for (int i = 0; i < plan.count; i++) {
    if (strcmp(plan.ops[i].argv[0], name) == 0 && arg < plan.ops[i].argc) return plan.ops[i].argv[arg];
  }
  return NULL;
}

static void send_msg(int fd, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  while (send(fd, buf, n, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

/* One message from the seqpacket socket; 0 at EOF. A descriptor sent along is not wanted here. */
static ssize_t recv_msg(int fd, char *buf, size_t size) {
  int passed;
  ssize_t n = recv_msg_fd(fd, buf, size, &passed);
  if (passed >= 0) close(passed);
  return n;
}

static void write_all(int fd, const char *s) {
  size_t len = strlen(s);
  while (len > 0) {
    ssize_t n = write(fd, s, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += n;
    len -= n;
  }
}

static pid_t clone_process(unsigned long flags) {
  return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL

/* clone3's arguments (struct clone_args of <linux/sched.h>, which clashes with <sched.h>). */
struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* A clone straight into the cgroup2 directory `dir` (CLONE_INTO_CGROUP, Linux 5.7): no write
 * of the pid to cgroup.procs afterwards, which takes the kernel's threadgroup lock for writing
 * and with it an RCU grace period (~10 ms here). -1 with errno ENOSYS, E2BIG or EINVAL where
 * the kernel has no such clone (or EPERM from a seccomp filter); the caller then clones and
 * writes. With CLONE_PARENT the exit
 * signal must be 0 (the child gets ours). */
static pid_t clone_into_cgroup_fd(unsigned long flags, int dir_fd) {
  struct clone3_args args = {0};
  args.flags = flags | CLONE_INTO_CGROUP_FLAG;
  args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
  args.cgroup = (uint64_t)dir_fd;
  return (pid_t)syscall(SYS_clone3, &args, sizeof args);
}

static pid_t clone_into_cgroup(unsigned long flags, const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  pid_t pid = clone_into_cgroup_fd(flags, fd);
  int err = errno;
  close(fd); /* in the child too: the init holds no host file */
  errno = err;
  return pid;
}

/* The gofer's setns to the namespace file at `path`, reported as a step without an index. */
static int join_namespace_at(const char *path, int type, int report_fd) {
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, type) != 0) {
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return -1;
  }
  return 0;
}

/* Where a clone3 into a cgroup is not to be had (an older kernel, or a seccomp filter around
 * us refusing clone3: Docker's says ENOSYS, others EPERM), the caller falls back to a plain
 * clone and a write to cgroup.procs. */
static bool clone3_unavailable(int err) {
  return err == ENOSYS || err == E2BIG || err == EINVAL || err == EPERM;
}

/* x-clone-into DIR (exec): the process is cloned straight into DIR, the container's cgroup2
 * directory, opened (with its cgroup.procs, for the fallback) while the helper still sees the
 * host's paths; -1 when the plan has no such step. */
static int exec_cgroup_dir = -1, exec_cgroup_procs = -1, exec_cgroup_index = -1;

/* Nothing privileged left to do (an init that has released its process, a reaper whose CRIU
 * is done): no_new_privs, an empty bounding set and no capability, so nothing is left that
 * could be turned against the host. */
static void drop_all_privileges(void) {
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  for (int cap = 0; cap <= 63; cap++) {
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL) break;
  }
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct none[2];
  memset(none, 0, sizeof none);
  syscall(SYS_capset, &header, none);
}

static int status_of(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

/* ---- the user's process ---------------------------------------------------------------- */

/* u-seccomp-notify: where the listener goes (the agent, or for exec the helper, which sends it
 * on), and the message with it (the process's state, from the start gate). */
static int notify_target = -1;
static const char *notify_message = NULL;

static int send_listener(void) {
  int target = notify_target >= 0 ? notify_target : seccomp_agent;
  if (target < 0 || seccomp_listener < 0) return EBADF;
  if (notify_message == NULL) return EINVAL; /* the start gate brought no state for the agent */
  int err = send_fd(target, notify_message, seccomp_listener);
  close(seccomp_listener);
  close(target);
  seccomp_listener = -1;
  return err;
}

static void run_user(int exec_error_fd) {
  for (int i = 0; i < plan.count; i++) {
    struct op *op = &plan.ops[i];
    if (op->argv[0][0] != 'u') continue;
    int err = strcmp(op->argv[0], "u-console") == 0 ? attach_console(op)
              : strcmp(op->argv[0], "u-hook") == 0 ? run_hook(op)
              : strcmp(op->argv[0], "u-seccomp-notify") == 0 ? send_listener() : op_run(op);
    if (err != 0) {
      char buf[64];
      snprintf(buf, sizeof buf, USER_EXEC_ERROR, op->index, err);
      write_all(exec_error_fd, buf);
      _exit(127);
    }
  }
  dprintf(exec_error_fd, USER_EXEC_ERROR, -1, EINVAL); /* a plan without exec */
  _exit(127);
}

/* x-seccomp-agent PATH BEFORE AFTER: the exec helper's step; the message to the agent is
 * BEFORE, the process's pid, AFTER (its state, made by the CLI, which cannot know the pid). */
static int agent_index = -1;

static int send_agent(pid_t pid, int listener) {
  if (agent_index < 0 || plan.ops[agent_index].argc < 4) return close_with(listener, EINVAL);
  const char *before = plan.ops[agent_index].argv[2], *after = plan.ops[agent_index].argv[3];
  size_t size = strlen(before) + strlen(after) + 16;
  char *message = malloc(size);
  if (message == NULL) return close_with(listener, ENOMEM);
  snprintf(message, size, "%s%d%s", before, (int)pid, after);
  int err = send_fd(seccomp_agent, message, listener);
  free(message);
  close(listener);
  close(seccomp_agent);
  seccomp_agent = -1;
  return err;
}

/* Clones the user's process (with `flags`: namespaces, CLONE_PARENT), which closes
 * `parent_fd`, runs the u- steps and execs. Returns its pid with *err 0 once execve succeeded,
 * or with the failed step's index and errno (the process has then exited); -1 with *err when
 * it could not be cloned. */
static pid_t start_process(unsigned long flags, int parent_fd, int *index, int *err) {
  int pipefd[2];
  *index = -1;
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *err = errno;
    return -1;
  }
  /* With a seccomp agent (x-seccomp-agent): the process passes us its listener over this pair. */
  int pair[2] = {-1, -1};
  if (seccomp_agent >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    *err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  pid_t child;
  if (exec_cgroup_dir >= 0) {
    child = clone_into_cgroup_fd(flags, exec_cgroup_dir);
    if (child < 0 && clone3_unavailable(errno)) {
      /* The helper moves itself (the process inherits its cgroup): the slow way in, with the
       * kernel's threadgroup lock, as before clone3. */
      child = write(exec_cgroup_procs, "0", 1) == 1 ? clone_process(flags) : -1;
      if (child < 0) *index = exec_cgroup_index;
    } else if (child < 0) {
      *index = exec_cgroup_index;
    }
  } else {
    child = clone_process(flags);
  }
  if (child < 0) {
    *err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    if (pair[0] >= 0) close(pair[0]), close(pair[1]);
    return -1;
  }
  if (child == 0) {
    close(pipefd[0]);
    close(parent_fd);
    if (pair[0] >= 0) {
      close(pair[0]);
      close(seccomp_agent);
      seccomp_agent = -1;
      notify_target = pair[1];
      notify_message = "listener"; /* the helper sends the state */
    }
    run_user(pipefd[1]);
  }
  close(pipefd[1]);
  if (pty_slave >= 0) close(pty_slave);
  int agent_err = 0;
  if (pair[0] >= 0) {
    /* The listener, as soon as the process has loaded its filter (a later step of it may make
     * a notified call, which waits for the agent); EOF: it failed or exec'd without one. */
    close(pair[1]);
    char buf[16];
    int listener = -1;
    recv_msg_fd(pair[0], buf, sizeof buf, &listener);
    close(pair[0]);
    if (listener >= 0) agent_err = send_agent(child, listener);
    if (agent_err != 0) kill(child, SIGKILL);
  }
  char report[64] = {0};
  ssize_t n;
  do {
    n = read(pipefd[0], report, sizeof report - 1);
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  *err = 0;
  if (agent_err != 0) {
    *index = agent_index;
    *err = agent_err;
  } else if (n > 0) {
    *err = EIO;
    sscanf(report, USER_EXEC_ERROR, index, err);
  }
  return child;
}

/* ---- the user's process, started early by the init ------------------------------------ */

/* The init clones the user's process (i-user-clone) before the root filesystem is set up, in
 * its pid namespace, and keeps it waiting: it runs the p- steps the init hands it (a procfs
 * shows the pid namespace of the process that mounts it, so /proc is mounted by the process
 * whose namespace it must show, in its place among the mounts), and at the start gate "go"
 * (with the terminal attached, and the state for startContainer hooks) its u- steps. */
static pid_t user_pid = -1;
static int user_sock = -1;   /* the init's end of the socket to it */
static int user_report = -1; /* its exec error pipe: EOF once execve succeeded */

static void user_wait(int sock, int report) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (;;) {
    int fd;
    ssize_t n = recv_msg_fd(sock, hook_state, sizeof hook_state, &fd);
    if (n <= 0) _exit(1); /* the init is gone: nobody will start us */
    if (msg_starts(hook_state, USER_STEP)) {
      int index = atoi(hook_state + strlen(USER_STEP));
      int err = index >= 0 && index < plan.count && plan.ops[index].argv[0][0] == 'p' ? op_run(&plan.ops[index]) : EINVAL;
      send_msg(sock, "%d", err);
      continue;
    }
    if (msg_is(hook_state, INIT_PTY) && fd >= 0) { /* i-pty-stdio */
      int err = 0;
      for (int i = 0; i <= 2 && err == 0; i++) {
        if (dup2(fd, i) < 0) err = errno;
      }
      pty_slave = fd;
      send_msg(sock, "%d", err);
      continue;
    }
    if (msg_starts(hook_state, INIT_GO)) {
      size_t skip = n > 2 ? 3 : 2;
      memmove(hook_state, hook_state + skip, n - skip + 1);
      /* "<state for the hooks>\t<state for the seccomp agent>" (no JSON holds a raw tab) */
      char *tab = strchr(hook_state, '\t');
      if (tab != NULL) {
        *tab = '\0';
        notify_message = tab + 1;
      }
      if (fd >= 0) pty_slave = fd;
      break;
    }
    if (fd >= 0) close(fd);
  }
  close(sock);
  run_user(report);
}

/* i-user-clone FLAGS */
static int spawn_user(unsigned long flags, int ctl) {
  int sv[2], pipefd[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return errno;
  cleanup_close int sock = sv[0], peer = sv[1];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return errno;
  cleanup_close int report = pipefd[0], report_peer = pipefd[1];
  pid_t child = clone_process(flags);
  if (child < 0) return errno;
  if (child == 0) {
    close(ctl);
    close(sock);
    close(report);
    user_wait(peer, report_peer); /* does not return */
  }
  user_pid = child;
  user_sock = take_fd(&sock);
  user_report = take_fd(&report);
  return 0;
}

/* A p- step, run by the user's process. */
static int delegate(int index) {
  if (user_sock < 0) return EINVAL;
  char reply[32];
  send_msg(user_sock, USER_STEP "%d", index);
  if (recv_msg(user_sock, reply, sizeof reply) <= 0) return ECHILD;
  return atoi(reply);
}

/* i-pty-stdio: the terminal becomes the stdio of the init and of the waiting user's process,
 * in place of the caller's: create must leave none of its descriptors behind, since a caller
 * reads its output to the end (containerd's shim does before it goes on to start), and runc's
 * container has the terminal as stdio from create on too. The user's process takes the slave
 * (and keeps it for u-console) and answers its errno. */
static int pty_stdio(void) {
  if (pty_slave < 0 || user_sock < 0) return EBADF;
  for (int fd = 0; fd <= 2; fd++) {
    if (dup2(pty_slave, fd) < 0) return errno;
  }
  int err = send_fd(user_sock, INIT_PTY, pty_slave);
  close(pty_slave);
  pty_slave = -1;
  char reply[32];
  if (err == 0) err = recv_msg(user_sock, reply, sizeof reply) <= 0 ? ECHILD : atoi(reply);
  return err;
}

/* Lets the user's process go; its pid with *err 0 once execve succeeded, or with the failed
 * step's index and errno. */
static pid_t release_user(int *index, int *err) {
  *index = -1;
  *err = 0;
  size_t len = strlen(hook_state);
  char *go = malloc(len + 4);
  if (go == NULL) {
    *err = ENOMEM;
    return user_pid;
  }
  memcpy(go, INIT_GO " ", 3);
  memcpy(go + 3, hook_state, len + 1);
  int sent = pty_slave >= 0 ? send_fd(user_sock, go, pty_slave) : (send(user_sock, go, len + 3, MSG_NOSIGNAL) < 0 ? errno : 0);
  free(go);
  if (pty_slave >= 0) close(pty_slave);
  close(user_sock);
  if (sent != 0) {
    *err = sent;
    return user_pid;
  }
  char report[64] = {0};
  ssize_t n;
  do {
    n = read(user_report, report, sizeof report - 1);
  } while (n < 0 && errno == EINTR);
  close(user_report);
  if (n > 0) {
    *err = EIO;
    sscanf(report, USER_EXEC_ERROR, index, err);
  }
  return user_pid;
}

/* ---- init ------------------------------------------------------------------------------- */

static void run_init(int ctl) {
  char msg[256];
  show_as_init();
  /* Nothing runs before the gofer has put us in our cgroup and written our id maps. */
  if (recv_msg(ctl, msg, sizeof msg) <= 0 || !msg_is(msg, INIT_SETUP)) _exit(1);
  /* Non-dumpable from the first step on (until now the gofer, which may be unprivileged, had
   * to write our maps: the /proc files of a non-dumpable process belong to the host's root):
   * no process of a shared pid namespace may read our memory or reach our binary. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  for (int i = 0; i < plan.count; i++) {
    struct op *op = &plan.ops[i];
    if (op->argv[0][0] != 'i' && op->argv[0][0] != 'p') continue;
    int err;
    if (op->argv[0][0] == 'p') {
      err = delegate(op->index);
    } else if (strcmp(op->argv[0], "i-user-clone") == 0) {
      err = spawn_user(strtoul(op->argv[1], NULL, 0), ctl);
    } else if (strcmp(op->argv[0], "i-hooks") == 0) {
      /* The runtime's own hooks (prestart, createRuntime) run now, before pivot_root: wait
       * for the CLI to have run them; its answer carries the state for ours. */
      send_msg(ctl, INIT_HOOKS);
      ssize_t n = recv_msg(ctl, hook_state, sizeof hook_state);
      const ssize_t prefix = strlen(MSG_CONTINUE);
      if (n < prefix || !msg_starts(hook_state, MSG_CONTINUE)) _exit(1);
      memmove(hook_state, hook_state + prefix, n - prefix + 1);
      err = 0;
    } else if (strcmp(op->argv[0], "i-hook") == 0) {
      err = run_hook(op);
    } else {
      err = strcmp(op->argv[0], "i-pty") == 0 ? open_pty(ctl, INIT_PTY)
            : strcmp(op->argv[0], "i-pty-stdio") == 0 ? pty_stdio() : op_run(op);
    }
    if (err != 0) {
      send_msg(ctl, INIT_ERROR "%d %d", op->index, err);
      _exit(1);
    }
  }
  send_msg(ctl, INIT_READY);

  /* The start gate. EOF: the gofer is gone, and nobody could ever start us. The message
   * carries the state for startContainer hooks. */
  ssize_t got = recv_msg(ctl, hook_state, sizeof hook_state);
  if (got < 2 || !msg_starts(hook_state, INIT_GO)) _exit(1);
  size_t skip = got > 2 ? 3 : 2; /* "go" or "go <state>" */
  memmove(hook_state, hook_state + skip, got - skip + 1);

  if (user_pid < 0) {
    send_msg(ctl, INIT_START_ERROR "%d %d", -1, EINVAL);
    _exit(1);
  }
  int index, err;
  pid_t child = release_user(&index, &err);
  if (err != 0) send_msg(ctl, INIT_START_ERROR "%d %d", index, err);
  else send_msg(ctl, INIT_STARTED "%d", child);
  /* Nothing left to do but wait and reap: keep no privilege that could be turned against the
   * host (capabilities, gaining any through exec), and only now, since the user's process had
   * to get its own. */
  drop_all_privileges();

  /* As pid 1 of the sandbox, reap every orphan until the user's process itself exits. */
  for (;;) {
    int wstatus;
    pid_t pid = waitpid(-1, &wstatus, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      _exit(255);
    }
    if (pid == child) {
      int status = status_of(wstatus);
      send_msg(ctl, INIT_EXIT "%d", status);
      _exit(status);
    }
  }
}

/* ---- reaper (a restored container's init) ----------------------------------------------- */

/* `runcell restore`: CRIU cannot dump nested pid namespaces, so a checkpoint holds the user's
 * process tree alone (pid 1 of its own namespace), and on restore something must again be its
 * parent, reap it and report its status to the gofer, as the init does. That is us: a child
 * subreaper on the host side, the parent of `criu swrk FD`, which the CLI drives over FD and
 * which restores the tree as its own sibling (rst_sibling), so as our child. `g-restore CRIU FD
 * PATH [FD...]`: the descriptors after PATH are criu's too (a network namespace it joins), and
 * none of them stays open here once criu has them. */
static void run_reaper(int ctl, const struct op *op) {
  char msg[256];
  show_as("reaper");
  if (recv_msg(ctl, msg, sizeof msg) <= 0 || !msg_is(msg, INIT_SETUP)) _exit(1);
  if (op->argc < 4 || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
    send_msg(ctl, INIT_ERROR "%d %d", op->index, op->argc < 4 ? EINVAL : errno);
    _exit(1);
  }
  /* CRIU mounts what it works on (a cgroup yard, its restore's mount tree) in its own mount
   * namespace: a slave of the host's, so nothing of it shows on the host, and nothing is left
   * there if CRIU is killed half-way (`delete --force` empties the cgroup it runs in). The
   * yard is given to it ready, `g-restore-yard DIR NAME SOURCE...`: a tmpfs on DIR with each
   * host hierarchy SOURCE bound on DIR/NAME (CRIU would mount one in its working directory,
   * which is the CLI's image directory, a mount of the host's namespace, not ours). */
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
    send_msg(ctl, INIT_ERROR "%d %d", op->index, errno);
    _exit(1);
  }
  for (int i = 0; i < plan.count; i++) {
    const struct op *yard = &plan.ops[i];
    if (strcmp(yard->argv[0], "g-restore-yard") != 0) continue;
    int err = yard->argc < 2 || yard->argc % 2 != 0 ? EINVAL : 0;
    if (err == 0 && mount("tmpfs", yard->argv[1], "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) err = errno;
    for (int j = 2; err == 0 && j + 1 < yard->argc; j += 2) {
      char target[4096];
      snprintf(target, sizeof target, "%s/%s", yard->argv[1], yard->argv[j]);
      if (mkdir(target, 0700) != 0 || mount(yard->argv[j + 1], target, NULL, MS_BIND, NULL) != 0) err = errno;
    }
    if (err != 0) {
      send_msg(ctl, INIT_ERROR "%d %d", yard->index, err);
      _exit(1);
    }
  }
  int criu_fd = atoi(op->argv[2]);
  pid_t criu = fork();
  if (criu < 0) {
    send_msg(ctl, INIT_ERROR "%d %d", op->index, errno);
    _exit(1);
  }
  if (criu == 0) {
    close(ctl);
    static char env_path[4096];
    snprintf(env_path, sizeof env_path, "PATH=%s", op->argv[3]);
    char *envp[] = {env_path, NULL};
    char *argv[] = {op->argv[1], "swrk", op->argv[2], NULL};
    execve(op->argv[1], argv, envp);
    _exit(127);
  }
  close(criu_fd);
  for (int i = 4; i < op->argc; i++) close(atoi(op->argv[i]));
  send_msg(ctl, INIT_READY);
  /* Our children: criu, and the restored tree's root once criu has made it (criu's helpers are
   * its own children; the tree's orphans go to its root, pid 1 of its namespace). */
  for (;;) {
    int wstatus;
    pid_t pid = waitpid(-1, &wstatus, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      _exit(255); /* ECHILD: criu has gone and restored nothing */
    }
    if (pid == criu) {
      /* Nothing privileged is left to do: keep nothing that could be turned against the host. */
      drop_all_privileges();
      continue;
    }
    int status = status_of(wstatus);
    send_msg(ctl, INIT_EXIT "%d", status);
    _exit(status);
  }
}

/* ---- gofer ------------------------------------------------------------------------------ */

/* SECONDS after the epoch as "YYYY-MM-DDTHH:MM:SS" (UTC). Not gmtime_r nor strftime: glibc's
 * first call of either runs tzset, which reads /etc/localtime (7 syscalls of every container's
 * exit) for a time that needs no zone. The civil date is H. Hinnant's civil_from_days. */
static void utc_time(time_t seconds, char *out, size_t size) {
  long long days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) {
    rest += 86400;
    days--;
  }
  days += 719468;
  long long era = (days >= 0 ? days : days - 146096) / 146097;
  long long doe = days - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long long mp = (5 * doy + 2) / 153;
  long long day = doy - (153 * mp + 2) / 5 + 1;
  long long month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2);
  snprintf(out, size, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld", year, month, day, rest / 3600, rest / 60 % 60, rest % 60);
}

static int write_exit_record(const char *path, const char *tmp, int status) {
  char buf[256];
  char when[64];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  utc_time(now.tv_sec, when, sizeof when);
  snprintf(buf, sizeof buf, EXIT_RECORD_FORMAT, status, when, now.tv_nsec / 1000000);
  /* The state directory's files are 0600 whatever the umask; the temp name is fixed (only this
   * gofer writes it, in a root that is 0700), and never followed if it is a symlink. */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (fchmod(fd, 0600) != 0) {
    close(fd);
    return -1;
  }
  write_all(fd, buf);
  fsync(fd);
  close(fd);
  return rename(tmp, path);
}

static void detach_stdio(void) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  for (int fd = 0; fd <= 2; fd++) dup2(null, fd);
  close(null);
}

/* A connection to the caller's console socket (a unix stream socket). */
static int console_connect(const char *path, int *sock) {
  if (path == NULL) return EINVAL;
  struct sockaddr_un addr = {0};
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) return ENAMETOOLONG;
  strcpy(addr.sun_path, path);
  *sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*sock < 0) return errno;
  if (connect(*sock, (struct sockaddr *)&addr, sizeof addr) == 0) return 0;
  int err = errno;
  close(*sock);
  *sock = -1;
  return err;
}

/* Sends the terminal's master to the caller's console socket, as runc does: one descriptor,
 * the pty's name as the payload. */
static int console_send(const char *path, int master) {
  int sock;
  int err = console_connect(path, &sock);
  if (err != 0) return err;
  err = send_fd(sock, "/dev/ptmx", master);
  close(sock);
  return err;
}

/* Reads one line from the CLI (a byte at a time: nothing after it is ours yet), without its
 * newline; its length, 0 at EOF, -1 on error or when it does not fit. */
static ssize_t read_line(int fd, char *buf, size_t size) {
  size_t len = 0;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n;
    if (c == '\n') break;
    if (len + 1 >= size) return -1;
    buf[len++] = c;
  }
  buf[len] = '\0';
  return (ssize_t)len;
}

static int console_index(void) {
  for (int i = 0; i < plan.count; i++) {
    if (strcmp(plan.ops[i].argv[0], "g-console") == 0) return i;
  }
  return -1;
}

/* idmap-helper PROGRAM ARGS...: runs `PROGRAM INIT-PID ARGS...` (newuidmap or newgidmap, which
 * are setuid root and check the mappings against /etc/subuid or /etc/subgid) and waits for it.
 * 0, an errno, or 1000 + its exit status (as for a hook). It inherits our stdio only. */
static int run_idmap_helper(const struct op *op, pid_t init) {
  if (op->argc < 2 || op->argc > 250) return EINVAL;
  char pid[16];
  snprintf(pid, sizeof pid, "%d", init);
  char *argv[256];
  argv[0] = op->argv[1];
  argv[1] = pid;
  for (int i = 2; i < op->argc; i++) argv[i] = op->argv[i];
  argv[op->argc] = NULL;
  pid_t child = fork();
  if (child < 0) return errno;
  if (child == 0) {
    syscall(SYS_close_range, 3U, ~0U, 0U);
    char *envp[] = {NULL};
    execve(argv[0], argv, envp);
    _exit(127);
  }
  int status;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return errno;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status) == 0 ? 0 : 1000 + WEXITSTATUS(status);
  return 1000 + 128 + WTERMSIG(status);
}

static int gofer(int plan_fd, int report_fd) {
  if (plan_read(plan_fd, &plan) != 0) {
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return 1;
  }
  const char *exit_path = opt("g-files", 1), *exit_tmp = opt("g-files", 2);
  const char *gate_path = opt("g-files", 3), *ready_path = opt("g-files", 4);
  const char *clone_flags = opt("g-clone", 1);
  if (exit_path == NULL || exit_tmp == NULL || gate_path == NULL || ready_path == NULL || clone_flags == NULL) {
    dprintf(report_fd, REPORT_ERROR, -1, EINVAL);
    return 1;
  }
  /* 0600 whatever the caller's umask (which stays the init's: it shapes the container's mount
   * points), so only for these two calls. mkfifo never follows a symlink. */
  mode_t umask_before = umask(0);
  for (int i = 0; i < plan.count; i++) {
    if (strcmp(plan.ops[i].argv[0], "g-mkfifo") != 0) continue;
    if (mkfifo(plan.ops[i].argv[1], 0600) != 0) {
      dprintf(report_fd, REPORT_ERROR, i, errno);
      return 1;
    }
  }
  umask(umask_before);
  int ctl[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0) {
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return 1;
  }
  const char *user_ns = opt("g-join-user", 1);
  if (user_ns != NULL) {
    /* A rootless member of a sandbox: the sandbox's user namespace first (its owner, our
     * user, has every capability in it), which grants the right to join its pid namespace and
     * is the init's. Its maps are written already. The container cannot reach us: we are in
     * none of its pid namespaces, so none of its processes can name us, and from the clone on
     * we are non-dumpable with an mm of the host's (below), which only CAP_SYS_PTRACE over the
     * host may trace. */
    if (join_namespace_at(user_ns, CLONE_NEWUSER, report_fd) != 0) return 1;
  }
  const char *pid_ns = opt("g-join-pid", 1);
  if (pid_ns != NULL) {
    /* Joining a pid namespace applies to children only: the gofer itself stays on the host. */
    if (join_namespace_at(pid_ns, CLONE_NEWPID, report_fd) != 0) return 1;
  }
  /* g-clone-into DIR: the init starts in the container's cgroup2 directory (then only the v1
   * hierarchies are left to join, which the init does itself: see launch-plan.ts). */
  int into_index = -1;
  for (int i = 0; i < plan.count; i++) {
    if (strcmp(plan.ops[i].argv[0], "g-clone-into") == 0 && plan.ops[i].argc > 1) into_index = i;
  }
  unsigned long init_flags = CLONE_PARENT | strtoul(clone_flags, NULL, 0);
  bool placed = false;
  pid_t init;
  if (into_index >= 0) {
    init = clone_into_cgroup(init_flags, plan.ops[into_index].argv[1]);
    if (init >= 0) placed = true;
    /* EPERM too: a seccomp filter around us may refuse clone3 that way (Docker's says ENOSYS);
     * a real refusal to place the init there fails the write below all the same. */
    else if (clone3_unavailable(errno)) init = clone_process(init_flags);
    else {
      dprintf(report_fd, REPORT_ERROR, into_index, errno);
      return 1;
    }
  } else {
    init = clone_process(init_flags);
  }
  if (init < 0) {
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return 1;
  }
  const struct op *restore = NULL;
  for (int i = 0; i < plan.count; i++) {
    if (strcmp(plan.ops[i].argv[0], "g-restore") == 0) restore = &plan.ops[i];
  }
  if (init == 0) {
    close(ctl[0]);
    close(plan_fd);
    close(report_fd);
    if (restore != NULL) run_reaper(ctl[1], restore);
    run_init(ctl[1]);
  }
  /* criu's descriptors are the reaper's alone: criu's end of the CLI's socket must reach EOF
   * when criu is done. */
  for (int i = 2; restore != NULL && i < restore->argc; i++) {
    if (i != 3) close(atoi(restore->argv[i]));
  }
  /* Only after the clone: the init, our copy, must stay dumpable until its maps are written. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  close(ctl[1]);

  char msg[256];
  /* A cgroup manager (systemd under --systemd-cgroup) places the init itself, by its pid: report
   * it and wait, the init running nothing until "setup" (runc's init waits for its manager's
   * Apply likewise). Anything but "cgroup": the CLI failed or died, the init goes. */
  if (opt("g-cgroup-manager", 0) != NULL) {
    dprintf(report_fd, REPORT_CGROUP, init);
    if (read_line(plan_fd, msg, sizeof msg) <= 0 || !msg_is(msg, MSG_CGROUP_PLACED)) {
      kill(init, SIGKILL);
      return 1;
    }
  }
  /* The init joins its cgroup before it runs anything, so everything it starts is counted.
   * g-clone-into that the kernel could not do: its cgroup.procs is written instead. */
  for (int i = 0; i < plan.count; i++) {
    char procs[4096];
    const char *file = plan.ops[i].argv[1];
    if (i == into_index && !placed) {
      if (snprintf(procs, sizeof procs, "%s/cgroup.procs", plan.ops[i].argv[1]) >= (int)sizeof procs) {
        kill(init, SIGKILL);
        dprintf(report_fd, REPORT_ERROR, i, ENAMETOOLONG);
        return 1;
      }
      file = procs;
    } else if (strcmp(plan.ops[i].argv[0], "g-cgroup") != 0) {
      continue;
    }
    cleanup_close int fd = open(file, O_WRONLY | O_CLOEXEC);
    char pid[16];
    int len = snprintf(pid, sizeof pid, "%d", init);
    if (fd < 0 || write(fd, pid, len) != len) {
      int err = errno;
      kill(init, SIGKILL);
      dprintf(report_fd, REPORT_ERROR, i, err);
      return 1;
    }
  }
  /* The init's user namespace maps, in the plan's order: written here (setgroups before
   * gid_map where the plan says so), or by a setuid helper (newuidmap/newgidmap). */
  for (int i = 0; i < plan.count; i++) {
    const char *name = plan.ops[i].argv[0];
    const char *file = strcmp(name, "g-uid-map") == 0 ? "uid_map"
      : strcmp(name, "g-gid-map") == 0 ? "gid_map" : strcmp(name, "g-setgroups") == 0 ? "setgroups" : NULL;
    int err = 0;
    if (file != NULL) {
      char path[64];
      snprintf(path, sizeof path, "/proc/%d/%s", init, file);
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write(fd, plan.ops[i].argv[1], strlen(plan.ops[i].argv[1])) < 0) err = errno;
      if (fd >= 0) close(fd);
    } else if (strcmp(name, "g-idmap-helper") == 0) {
      err = run_idmap_helper(&plan.ops[i], init);
    }
    if (err != 0) {
      kill(init, SIGKILL);
      dprintf(report_fd, REPORT_ERROR, i, err);
      return 1;
    }
  }
  send_msg(ctl[0], INIT_SETUP);

  /* Until the init is ready: perhaps a terminal to hand to the caller's console socket. */
  for (;;) {
    int pty = -1;
    if (recv_msg_fd(ctl[0], msg, sizeof msg, &pty) <= 0) {
      dprintf(report_fd, REPORT_ERROR, -1, ECHILD);
      return 1;
    }
    if (msg_is(msg, INIT_HOOKS)) {
      /* Ask the CLI to run the runtime's hooks; relay its answer (with the state) back. */
      dprintf(report_fd, REPORT_HOOKS, init);
      static char answer[65536];
      size_t len = 0;
      for (;;) {
        ssize_t got = read(plan_fd, answer + len, sizeof answer - 1 - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += got;
        if (memchr(answer, '\n', len) != NULL || len == sizeof answer - 1) break;
      }
      char *newline = memchr(answer, '\n', len);
      if (newline == NULL || !msg_starts(answer, MSG_CONTINUE)) {
        kill(init, SIGKILL);
        return 1;
      }
      *newline = '\0';
      while (send(ctl[0], answer, newline - answer, MSG_NOSIGNAL) < 0 && errno == EINTR) {
      }
      continue;
    }
    if (!msg_is(msg, INIT_PTY)) break;
    int err = pty < 0 ? EBADMSG : console_send(opt("g-console", 1), pty);
    if (pty >= 0) close(pty);
    if (err != 0) {
      kill(init, SIGKILL);
      dprintf(report_fd, REPORT_ERROR, console_index(), err);
      return 1;
    }
  }
  if (msg_starts(msg, INIT_ERROR)) { /* the init's "error <step> <errno>" is REPORT_ERROR's */
    dprintf(report_fd, "%s\n", msg);
    return 1;
  }
  /* The gate and the reply channel are open before create returns, so that a `start` right
   * after it finds a reader (a FIFO without one refuses writers: ENXIO). Opened after the
   * clone: the init must hold no host file. */
  int gate = open(gate_path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  int ready = open(ready_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (gate < 0 || ready < 0) {
    kill(init, SIGKILL);
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return 1;
  }
  dprintf(report_fd, REPORT_READY, init);

  /* The CLI saves the container's state, then commits. EOF first: it died mid-create, and a
   * container nobody recorded must not live on. */
  char commit[16] = {0};
  ssize_t n;
  do {
    n = read(plan_fd, commit, sizeof commit - 1);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || !msg_starts(commit, MSG_COMMIT)) {
    kill(init, SIGKILL);
    return 1;
  }
  close(plan_fd);
  close(report_fd);
  /* Keep nothing of the caller's: its pipes must reach EOF when the container's processes close
   * them (containerd and conmon read them to the end), and its terminal's signals are not ours. */
  detach_stdio();
  setsid();
  /* Keep only the init's socket and the two FIFOs: the caller's other descriptors (those
   * passed on to the container) are not ours to hold. close_range over the gaps between them
   * (three calls, not a thousand closes); one close at a time where the kernel lacks it. */
  int keep[3] = {ctl[0], gate, ready};
  for (int i = 0; i < 3; i++) {
    for (int j = i + 1; j < 3; j++) {
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
    }
  }
  unsigned first = 3;
  for (int i = 0; i <= 3; i++) {
    unsigned last = i < 3 ? (unsigned)keep[i] - 1 : ~0U;
    if (i < 3 && keep[i] < 3) continue;
    if (first <= last && syscall(SYS_close_range, first, last, 0U) != 0) {
      for (unsigned fd = first; fd <= last && fd < 1024; fd++) close((int)fd);
    }
    if (i < 3) first = (unsigned)keep[i] + 1;
  }
  for (;;) {
    /* The gate is polled until its line is in (a negative fd is skipped by poll). */
    struct pollfd fds[2] = {{ctl[0], POLLIN, 0}, {gate, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (gate >= 0 && (fds[1].revents & POLLIN)) {
      /* "s" and, on the same line, the state for startContainer hooks. A line longer than we
       * take is refused with EMSGSIZE (rather than waited for, or spun on with a full buffer)
       * and skipped through its newline; the gate stays open, so the container stays
       * startable. */
      static char gate_buf[65536];
      static size_t gate_len = 0;
      static bool skipping = false;
      ssize_t got = read(gate, gate_buf + gate_len, sizeof gate_buf - 1 - gate_len);
      if (got > 0) gate_len += got;
      char *newline = memchr(gate_buf, '\n', gate_len);
      if (skipping && newline != NULL) {
        skipping = false;
        gate_len -= newline + 1 - gate_buf;
        memmove(gate_buf, newline + 1, gate_len);
        newline = memchr(gate_buf, '\n', gate_len);
      }
      if (skipping) {
        gate_len = 0;
      } else if (newline != NULL) {
        char *go = malloc(newline - gate_buf + 4);
        if (go != NULL) {
          size_t state_len = newline - gate_buf > 1 ? (size_t)(newline - gate_buf - 1) : 0;
          memcpy(go, INIT_GO " ", 3);
          memcpy(go + 3, gate_buf + 1, state_len);
          while (send(ctl[0], go, 3 + state_len, MSG_NOSIGNAL) < 0 && errno == EINTR) {
          }
          free(go);
        }
        close(gate); /* one start only */
        gate = -1;
      } else if (gate_len == sizeof gate_buf - 1) {
        dprintf(ready, REPORT_ERROR, -1, EMSGSIZE);
        skipping = true;
        gate_len = 0;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t got = recv_msg(ctl[0], msg, sizeof msg);
      if (got <= 0) {
        write_exit_record(exit_path, exit_tmp, 137); /* no report: the init was SIGKILLed */
        return 0;
      }
      if (msg_starts(msg, INIT_STARTED)) {
        write_all(ready, REPLY_STARTED);
      } else if (msg_starts(msg, INIT_START_ERROR)) {
        /* "start-error <step> <errno>" goes on as REPORT_ERROR: "error <step> <errno>" */
        write_all(ready, msg + strlen(INIT_START_ERROR) - strlen(INIT_ERROR));
        write_all(ready, "\n");
      } else if (msg_starts(msg, INIT_EXIT)) {
        write_exit_record(exit_path, exit_tmp, atoi(msg + strlen(INIT_EXIT)));
        return 0;
      }
    }
  }
  return 1;
}

/* ---- exec ------------------------------------------------------------------------------- */

/* `runcell exec`: the helper runs the x- steps (join the container's cgroup, connect to the
 * console socket, enter its namespaces, open a terminal there), then clones the process with
 * the calling CLI as its parent (conmon and the shim reap it) and reports "started <pid>" or
 * "error <step> <errno>"; the process runs the u- steps and execs. */
static int exec_helper(int plan_fd, int report_fd) {
  /* Non-dumpable until the process execs (the kernel makes it dumpable again then): from the
   * moment it is in the container's pid namespace, the container sees it, and must reach
   * neither its memory nor its binary through /proc/PID. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (plan_read(plan_fd, &plan) != 0) {
    dprintf(report_fd, REPORT_ERROR, -1, errno);
    return 1;
  }
  close(plan_fd);
  int console = -1;
  unsigned long clone_flags = 0;
  for (int i = 0; i < plan.count; i++) {
    struct op *op = &plan.ops[i];
    if (op->argv[0][0] != 'x') continue;
    int err;
    if (strcmp(op->argv[0], "x-clone") == 0) {
      clone_flags = strtoul(op->argv[1], NULL, 0);
      continue;
    }
    if (strcmp(op->argv[0], "x-seccomp-agent") == 0) agent_index = i;
    if (strcmp(op->argv[0], "x-clone-into") == 0) {
      exec_cgroup_index = op->index;
      char procs[4096];
      exec_cgroup_dir = open(op->argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (exec_cgroup_dir < 0) {
        err = errno;
      } else if (snprintf(procs, sizeof procs, "%s/cgroup.procs", op->argv[1]) >= (int)sizeof procs) {
        err = ENAMETOOLONG;
      } else {
        exec_cgroup_procs = open(procs, O_WRONLY | O_CLOEXEC);
        err = exec_cgroup_procs < 0 ? errno : 0;
      }
    } else if (strcmp(op->argv[0], "x-console") == 0) {
      /* Connected while the caller's filesystem is still ours to reach. */
      err = console_connect(op->argv[1], &console);
    } else if (strcmp(op->argv[0], "x-pty") == 0) {
      err = console < 0 ? EBADF : open_pty(console, "/dev/ptmx");
      if (console >= 0) close(console);
      console = -1;
    } else {
      err = op_run(op);
    }
    if (err != 0) {
      dprintf(report_fd, REPORT_ERROR, op->index, err);
      return 1;
    }
  }
  int index, err;
  pid_t child = start_process(CLONE_PARENT | clone_flags, report_fd, &index, &err);
  if (child < 0) {
    dprintf(report_fd, REPORT_ERROR, index, err);
    return 1;
  }
  if (err != 0) {
    /* The process has exited: its pid goes along, for its parent (the CLI) to reap. */
    dprintf(report_fd, REPORT_ERROR_CHILD, index, err, child);
    return 1;
  }
  dprintf(report_fd, REPORT_STARTED_PID, child);
  return 0;
}

/* ---- root-readonly (restore) ------------------------------------------------------------- */

/* `runcell-init root-readonly PID`: makes the root mount of PID's mount namespace read-only
 * (root.readonly), and only that attribute. CRIU restores the root as a bind of the bundle's
 * root filesystem, writable; the CLI runs this at CRIU's "post-restore" notification, while
 * the restored tree is still stopped. Exits 0, or with the errno of the step that failed. */
static int root_readonly(const char *pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/mnt", pid);
  cleanup_close int ns = open(path, O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNS) != 0) return errno;
  /* setns made that namespace's root our root and cwd: "/" is the container's root mount. */
  struct mount_attr attr = {MOUNT_ATTR_RDONLY, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, &attr, sizeof attr) != 0) return errno;
  return 0;
}

int main(int argc, char **argv) {
  main_argc = argc;
  main_argv = argv;
  /* Executed through a descriptor (/proc/PID/fd/N: see src/container/init-binary.ts), our name
   * would be "N": take argv[0]'s instead. */
  if (argc > 0) {
    const char *slash = strrchr(argv[0], '/');
    prctl(PR_SET_NAME, slash != NULL ? slash + 1 : argv[0], 0, 0, 0);
  }
  if (argc == 4 && strcmp(argv[1], "gofer") == 0) {
    return gofer(atoi(argv[2]), atoi(argv[3]));
  }
  if (argc == 4 && strcmp(argv[1], "exec") == 0) {
    return exec_helper(atoi(argv[2]), atoi(argv[3]));
  }
  if (argc == 3 && strcmp(argv[1], "root-readonly") == 0) {
    return root_readonly(argv[2]);
  }
  fprintf(stderr, "usage: runcell-init gofer|exec PLAN_FD REPORT_FD (started by runcell, not by hand)\n");
  return 2;
}
