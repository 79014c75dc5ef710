// Starting runcell-init without node:child_process (loading it costs ~5 ms of a `create`, and
// its fork of the whole Node process blocks the event loop ~1.5 ms per container):
//   pipe(nonBlockingRead, nonBlockingWrite) -> [readFd, writeFd]
//                          pipe2(O_CLOEXEC), then O_NONBLOCK on the ends asked for (an end
//                          handed to a child stays blocking; ours is polled on the event loop)
//   spawn(file, argv, fds) -> Promise<pid>
//                          posix_spawn(3) (a vfork-like clone and execve) of `file` with argv,
//                          an empty environment, fds[i] as descriptor i and nothing else (every
//                          other descriptor of ours is close-on-exec), every signal's default
//                          disposition and an empty signal mask, as libuv gives its children;
//                          on a libuv pool thread (below).
// What to run, with which descriptors, and when to reap it is TypeScript's (gofer.ts).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool nonBlocking[2] = {info[0].ToBoolean().Value(), info[1].ToBoolean().Value()};
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ThrowErrno(env, errno, "pipe2");
  for (int end = 0; end < 2; end++) {
    if (!nonBlocking[end]) continue;
    int flags = ::fcntl(fds[end], F_GETFL);
    if (flags == -1 || ::fcntl(fds[end], F_SETFL, flags | O_NONBLOCK) == -1) {
      int err = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      ThrowErrno(env, err, "fcntl");
    }
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, fds[0]));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

// The arguments of one spawn, prepared on the JavaScript thread; posix_spawn itself runs on a
// libuv pool thread: its vfork-like clone suspends the calling thread until the child has
// executed (~0.5 ms, more on a busy host), which must not stall the event loop (a library
// starting containers side by side).
class SpawnWork : public Napi::AsyncWorker {
 public:
  SpawnWork(Napi::Env env, std::string file, std::vector<std::string> argv, std::vector<int> copies)
      : Napi::AsyncWorker(env, "runcell.spawn"), deferred_(env), file_(std::move(file)), argv_(std::move(argv)),
        copies_(std::move(copies)) {}

  ~SpawnWork() override {
    for (int fd : copies_) ::close(fd);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::vector<char*> argv;
    for (auto& arg : argv_) argv.push_back(arg.data());
    argv.push_back(nullptr);
    char* envp[] = {nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    for (size_t i = 0; i < copies_.size(); i++) posix_spawn_file_actions_adddup2(&actions, copies_[i], static_cast<int>(i));
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    err_ = ::posix_spawn(&pid_, file_.c_str(), &actions, &attr, argv.data(), envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      deferred_.Reject(MakeErrnoError(env, err_, "posix_spawn", file_.c_str()).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, pid_));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string file_;
  std::vector<std::string> argv_;
  std::vector<int> copies_;
  pid_t pid_ = 0;
  int err_ = 0;
};

Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file = info[0].As<Napi::String>().Utf8Value();
  Napi::Array argvArray = info[1].As<Napi::Array>();
  Napi::Array fdArray = info[2].As<Napi::Array>();
  std::vector<std::string> argv;
  for (uint32_t i = 0; i < argvArray.Length(); i++) argv.push_back(argvArray.Get(i).As<Napi::String>().Utf8Value());
  // Each source is first duplicated above every target (close-on-exec), so that placing one
  // never overwrites another still to be placed; dup2 onto the target clears close-on-exec.
  // The copies are taken now: the caller may close its descriptors once this returns.
  int count = static_cast<int>(fdArray.Length());
  std::vector<int> copies;
  for (int i = 0; i < count; i++) {
    int source = fdArray.Get(static_cast<uint32_t>(i)).As<Napi::Number>().Int32Value();
    int copy = ::fcntl(source, F_DUPFD_CLOEXEC, count);
    if (copy == -1) {
      int err = errno;
      for (int fd : copies) ::close(fd);
      return RejectedWithErrno(env, err, "fcntl", nullptr);
    }
    copies.push_back(copy);
  }
  auto* work = new SpawnWork(env, std::move(file), std::move(argv), std::move(copies));
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

}  // namespace

void RegisterSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
}

}  // namespace runcell
