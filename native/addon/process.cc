// Processes: kill(2), waitpid(2), exit notification through a pidfd, and /proc/PID/stat; and
// the same poll on any descriptor (waitReadable).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

Napi::Value Kill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int signal = info[1].As<Napi::Number>().Int32Value();
  if (::kill(pid, signal) == -1) {
    ThrowErrno(env, errno, "kill");
  }
  return env.Undefined();
}

// Returns the decoded status, or null when WNOHANG was given and the child is still running.
// A blocking call (no WNOHANG) blocks the event loop: it is meant for children known to exit.
Napi::Value Waitpid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int options = info[1].As<Napi::Number>().Int32Value();
  int status = 0;
  pid_t rc;
  do {
    rc = ::waitpid(pid, &status, options);
  } while (rc == -1 && errno == EINTR);
  if (rc == -1) {
    ThrowErrno(env, errno, "waitpid");
  }
  if (rc == 0) {
    return env.Null();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, rc));
  result.Set("exitCode", WIFEXITED(status) ? Napi::Value(Napi::Number::New(env, WEXITSTATUS(status)))
                                           : env.Null());
  Napi::Value signal = env.Null();
  if (WIFSIGNALED(status)) {
    signal = Napi::Number::New(env, WTERMSIG(status));
  } else if (WIFSTOPPED(status)) {
    signal = Napi::Number::New(env, WSTOPSIG(status));
  }
  result.Set("signal", signal);
  result.Set("coreDumped", Napi::Boolean::New(env, WIFSIGNALED(status) && WCOREDUMP(status)));
  result.Set("stopped", Napi::Boolean::New(env, WIFSTOPPED(status)));
  result.Set("continued", Napi::Boolean::New(env, WIFCONTINUED(status)));
  return result;
}

// waitForExit(pid, keepAlive = true): a promise settled when the process exits, whether or not
// it is our child; without keepAlive the watch alone does not keep the event loop running.
// The pidfd becomes readable at exit (also when the process is a zombie nobody reaps yet), and
// libuv polls it on the event loop: no thread, no timer, no kill(pid, 0) loop.
// waitReadable(fd) is the same watch on a descriptor of the caller's (not closed here).
struct FdWatch {
  uv_poll_t poll;
  int fd;
  bool ownsFd;
  napi_env env;
  Napi::Promise::Deferred deferred;

  FdWatch(Napi::Env env, int fd, bool ownsFd) : fd(fd), ownsFd(ownsFd), env(env), deferred(env) {}
};

void OnWatchClosed(uv_handle_t* handle) {
  auto* watch = static_cast<FdWatch*>(handle->data);
  if (watch->ownsFd) ::close(watch->fd);
  delete watch;
}

void OnFdReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* watch = static_cast<FdWatch*>(poll->data);
  uv_poll_stop(poll);
  Napi::Env env(watch->env);
  try {
    Napi::HandleScope handleScope(env);
    // A callback scope, so that promise reactions run now rather than at some later
    // unrelated callback.
    Napi::AsyncContext context(env, "runcell.fdWatch");
    Napi::CallbackScope callbackScope(env, context);
    if (status == 0) {
      watch->deferred.Resolve(env.Undefined());
    } else {
      watch->deferred.Reject(MakeErrnoError(env, -status, "poll", nullptr).Value());
    }
  } catch (const Napi::Error&) {
    // The environment is being torn down (an unref'd watch firing while Node exits): nobody
    // is left to settle the promise for. An exception must not leave a libuv callback.
  }
  uv_close(reinterpret_cast<uv_handle_t*>(poll), OnWatchClosed);
}

// A promise settled when `fd` has one of `events` (a hang-up counts as readable). Unless
// `keepAlive`, the watch does not keep the event loop alive by itself (uv_unref).
Napi::Value WatchFd(Napi::Env env, int fd, bool ownsFd, int events, bool keepAlive = true) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    if (ownsFd) ::close(fd);
    throw Napi::Error::New(env, "no libuv event loop to poll a descriptor");
  }
  auto* watch = new FdWatch(env, fd, ownsFd);
  Napi::Promise promise = watch->deferred.Promise();
  watch->poll.data = watch;
  int rc = uv_poll_init(loop, &watch->poll, fd);
  if (rc == 0) {
    rc = uv_poll_start(&watch->poll, events, OnFdReadable);
    if (rc == 0 && !keepAlive) uv_unref(reinterpret_cast<uv_handle_t*>(&watch->poll));
    if (rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), OnWatchClosed);
    }
  } else {
    if (ownsFd) ::close(fd);
    delete watch;
  }
  if (rc != 0) {
    return RejectedWithErrno(env, -rc, "epoll_ctl", nullptr);
  }
  return promise;
}

Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  // UV_DISCONNECT: a FIFO or socket whose every writer is gone wakes the watch too.
  return WatchFd(info.Env(), info[0].As<Napi::Number>().Int32Value(), false, UV_READABLE | UV_DISCONNECT);
}

Napi::Value WaitForExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd == -1) {
    return RejectedWithErrno(env, errno, "pidfd_open", nullptr);
  }
  ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);  // pidfd_open sets it already; say so for readers.
  bool keepAlive = info.Length() < 2 || info[1].ToBoolean().Value();
  return WatchFd(env, pidfd, true, UV_READABLE, keepAlive);
}

// pidfdOpen(pid) -> fd, and pidfdSendSignal(fd, signal): a signal that reaches exactly the
// process the descriptor was opened on, never one that reused its pid since.
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd == -1) {
    ThrowErrno(env, errno, "pidfd_open");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int signal = info[1].As<Napi::Number>().Int32Value();
  if (::syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0) == -1) {
    ThrowErrno(env, errno, "pidfd_send_signal");
  }
  return env.Undefined();
}

// namespaceRelative(fd, which) -> fd: the parent (NS_GET_PARENT, "parent") of a pid or user
// namespace, or the user namespace that owns a namespace (NS_GET_USERNS, "owner"), as a new
// close-on-exec descriptor.
Napi::Value NamespaceRelative(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string which = info[1].As<Napi::String>().Utf8Value();
  unsigned long request = which == "parent" ? NS_GET_PARENT : NS_GET_USERNS;
  int related = ::ioctl(fd, request);
  if (related == -1) {
    ThrowErrno(env, errno, which == "parent" ? "ioctl NS_GET_PARENT" : "ioctl NS_GET_USERNS");
  }
  return Napi::Number::New(env, related);
}

// procStat(pid): the fields of /proc/PID/stat that identify a process and tell whether it
// still runs: state (field 3), ppid (4), flags (9) and starttime (22, clock ticks since boot).
Napi::Value ProcStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    ThrowErrno(env, errno, "open", path.c_str());
  }
  char buffer[4096];
  ssize_t length;
  do {
    length = ::read(fd, buffer, sizeof(buffer) - 1);
  } while (length == -1 && errno == EINTR);
  int readErrno = errno;
  ::close(fd);
  if (length == -1) {
    ThrowErrno(env, readErrno, "read", path.c_str());
  }
  buffer[length] = '\0';
  // comm (field 2) is in parentheses and may itself hold spaces and ')': the fields resume
  // after the last ')'.
  char* cursor = std::strrchr(buffer, ')');
  if (cursor == nullptr || cursor[1] != ' ') {
    ThrowErrno(env, EPROTO, "read", path.c_str());
  }
  cursor += 2;
  char state = *cursor;
  long long fields[20] = {0};  // fields 4..22 go to fields[1..19]
  cursor += 1;
  for (int i = 1; i < 20; i++) {
    char* end = nullptr;
    fields[i] = std::strtoll(cursor, &end, 10);
    if (end == cursor) {
      ThrowErrno(env, EPROTO, "read", path.c_str());
    }
    cursor = end;
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("state", Napi::String::New(env, &state, 1));
  result.Set("ppid", Napi::Number::New(env, static_cast<double>(fields[1])));
  result.Set("flags", Napi::Number::New(env, static_cast<double>(fields[6])));
  result.Set("startTime", Napi::Number::New(env, static_cast<double>(fields[19])));
  return result;
}

}  // namespace

// seqpacketPair(): a connected AF_UNIX SOCK_SEQPACKET pair, both ends close-on-exec, as CRIU's
// `swrk` mode wants it (each protobuf message is one packet; Node makes stream pairs only).
Napi::Value SeqpacketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == -1) {
    ThrowErrno(env, errno, "socketpair");
  }
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::Number::New(env, fds[0]));
  pair.Set(1u, Napi::Number::New(env, fds[1]));
  return pair;
}

// recvWithFd(fd, buffer): one message into `buffer` with the descriptor it carries
// (SCM_RIGHTS, made close-on-exec), as { length, fd } (fd -1 when none came): CRIU hands the
// restored terminal's master over its swrk socket this way (orphan-pts-master).
Napi::Value RecvWithFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> buffer = info[1].As<Napi::Buffer<char>>();
  char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  struct iovec iov = {buffer.Data(), buffer.Length()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n == -1 && errno == EINTR);
  if (n == -1) {
    ThrowErrno(env, errno, "recvmsg");
  }
  int fd = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("length", Napi::Number::New(env, static_cast<double>(n)));
  result.Set("fd", Napi::Number::New(env, fd));
  return result;
}

// The address of the unix socket `path`; ENAMETOOLONG, as from `syscall`, when it does not fit.
static struct sockaddr_un UnixAddress(Napi::Env env, const std::string& path, const char* syscall) {
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    ThrowErrno(env, ENAMETOOLONG, syscall, path.c_str());
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// listenUnix(path): a unix stream socket bound to `path` and listening, close-on-exec and
// non-blocking (acceptConnection returns at once): the console socket of a foreground run.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_un address = UnixAddress(env, path, "bind");
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock == -1) {
    ThrowErrno(env, errno, "socket");
  }
  if (::bind(sock, reinterpret_cast<struct sockaddr*>(&address), sizeof address) == -1) {
    int err = errno;
    ::close(sock);
    ThrowErrno(env, err, "bind", path.c_str());
  }
  if (::listen(sock, 1) == -1) {
    int err = errno;
    ::close(sock);
    ThrowErrno(env, err, "listen", path.c_str());
  }
  return Napi::Number::New(env, sock);
}

// acceptConnection(fd): the connection waiting on the listening socket `fd`, close-on-exec
// (EAGAIN when none is).
Napi::Value AcceptConnection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  int conn;
  do {
    conn = ::accept4(sock, nullptr, nullptr, SOCK_CLOEXEC);
  } while (conn == -1 && errno == EINTR);
  if (conn == -1) {
    ThrowErrno(env, errno, "accept4");
  }
  return Napi::Number::New(env, conn);
}

// setWindowSize(fd, rows, columns): TIOCSWINSZ on the terminal `fd`.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct winsize size = {};
  size.ws_row = static_cast<unsigned short>(info[1].As<Napi::Number>().Uint32Value());
  size.ws_col = static_cast<unsigned short>(info[2].As<Napi::Number>().Uint32Value());
  if (::ioctl(fd, TIOCSWINSZ, &size) == -1) {
    ThrowErrno(env, errno, "ioctl");
  }
  return env.Undefined();
}

// windowSize(fd): TIOCGWINSZ of the terminal `fd`, as [rows, columns].
Napi::Value WindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct winsize size = {};
  if (::ioctl(fd, TIOCGWINSZ, &size) == -1) {
    ThrowErrno(env, errno, "ioctl");
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, size.ws_row));
  result.Set(1u, Napi::Number::New(env, size.ws_col));
  return result;
}

// makeRawTerminal(fd): the terminal `fd` in raw mode (cfmakeraw: no echo, no line editing,
// no signals from keys, no output processing), and its attributes as they were (a struct
// termios) for restoreTerminal.
Napi::Value MakeRawTerminal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  struct termios saved;
  std::memset(&saved, 0, sizeof saved);  // glibc fills only the kernel's fields: no stack bytes out
  if (::tcgetattr(fd, &saved) == -1) {
    ThrowErrno(env, errno, "tcgetattr");
  }
  struct termios raw = saved;
  ::cfmakeraw(&raw);
  int rc;
  do {
    rc = ::tcsetattr(fd, TCSANOW, &raw);
  } while (rc == -1 && errno == EINTR);
  if (rc == -1) {
    ThrowErrno(env, errno, "tcsetattr");
  }
  return Napi::Buffer<char>::Copy(env, reinterpret_cast<char*>(&saved), sizeof saved);
}

// restoreTerminal(fd, saved): the attributes makeRawTerminal returned, back on the terminal.
Napi::Value RestoreTerminal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> saved = info[1].As<Napi::Buffer<char>>();
  if (saved.Length() != sizeof(struct termios)) {
    ThrowErrno(env, EINVAL, "tcsetattr");
  }
  struct termios attributes;
  std::memcpy(&attributes, saved.Data(), sizeof attributes);
  int rc;
  do {
    rc = ::tcsetattr(fd, TCSANOW, &attributes);
  } while (rc == -1 && errno == EINTR);
  if (rc == -1) {
    ThrowErrno(env, errno, "tcsetattr");
  }
  return env.Undefined();
}

// sendFdTo(path, payload, fd): connects to the unix stream socket `path` and sends `payload`
// with `fd` attached (SCM_RIGHTS), then closes the connection: runc's utils.SendFile, what a
// --console-socket listener (conmon, containerd's shim) expects.
Napi::Value SendFdTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string payload = info[1].As<Napi::String>().Utf8Value();
  int fd = info[2].As<Napi::Number>().Int32Value();
  struct sockaddr_un address = UnixAddress(env, path, "connect");
  int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock == -1) {
    ThrowErrno(env, errno, "socket");
  }
  int rc;
  do {
    rc = ::connect(sock, reinterpret_cast<struct sockaddr*>(&address), sizeof address);
  } while (rc == -1 && errno == EINTR);
  if (rc == -1) {
    int err = errno;
    ::close(sock);
    ThrowErrno(env, err, "connect", path.c_str());
  }
  char control[CMSG_SPACE(sizeof(int))];
  std::memset(control, 0, sizeof control);
  struct iovec iov = {const_cast<char*>(payload.data()), payload.size()};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n == -1 && errno == EINTR);
  int err = errno;
  ::close(sock);
  if (n == -1) {
    ThrowErrno(env, err, "sendmsg", path.c_str());
  }
  return env.Undefined();
}

// mountRoot(path): whether PATH (a symlink not followed) is the root of a mount, from statx's
// STATX_ATTR_MOUNT_ROOT (Linux 5.8); null when the kernel does not say.
Napi::Value MountRoot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct statx st;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_TYPE, &st) == -1) {
    ThrowErrno(env, errno, "statx", path.c_str());
  }
  if ((st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0) return env.Null();
  return Napi::Boolean::New(env, (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0);
}

void RegisterProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("mountRoot", Napi::Function::New(env, MountRoot, "mountRoot"));
  exports.Set("recvWithFd", Napi::Function::New(env, RecvWithFd, "recvWithFd"));
  exports.Set("sendFdTo", Napi::Function::New(env, SendFdTo, "sendFdTo"));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix, "listenUnix"));
  exports.Set("acceptConnection", Napi::Function::New(env, AcceptConnection, "acceptConnection"));
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize, "setWindowSize"));
  exports.Set("windowSize", Napi::Function::New(env, WindowSize, "windowSize"));
  exports.Set("makeRawTerminal", Napi::Function::New(env, MakeRawTerminal, "makeRawTerminal"));
  exports.Set("restoreTerminal", Napi::Function::New(env, RestoreTerminal, "restoreTerminal"));
  exports.Set("seqpacketPair", Napi::Function::New(env, SeqpacketPair, "seqpacketPair"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("waitpid", Napi::Function::New(env, Waitpid, "waitpid"));
  exports.Set("waitForExit", Napi::Function::New(env, WaitForExit, "waitForExit"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  exports.Set("procStat", Napi::Function::New(env, ProcStat, "procStat"));
  exports.Set("namespaceRelative", Napi::Function::New(env, NamespaceRelative, "namespaceRelative"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
}

}  // namespace runcell
