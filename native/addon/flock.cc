// flock(2) in three forms: blocking, try (contention is a value, not an exception) and
// asynchronous; and fstat(2) of what the state file locks and reads.
//
// The asynchronous form waits on a thread of its own, never on the libuv threadpool: fs-ext ran
// a blocking flock() there, so four waiting locks froze every fs call of the process
// (fs-ext #49, #79). node-pty avoids Napi::AsyncWorker for the same reason.
#include <errno.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <string>
#include <thread>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

int FlockRetryingEintr(int fd, int operation) {
  int rc;
  do {
    rc = ::flock(fd, operation);
  } while (rc == -1 && errno == EINTR);
  return rc == -1 ? errno : 0;
}

Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int operation = info[1].As<Napi::Number>().Int32Value();
  if (int err = FlockRetryingEintr(fd, operation)) {
    ThrowErrno(env, err, "flock", OptionalPath(info, 2).c_str());
  }
  return env.Undefined();
}

// Returns false when the lock is held elsewhere: the contention path of a benchmark or of a
// try-lock loop should not pay for an exception. Every other failure throws.
Napi::Value TryFlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int operation = info[1].As<Napi::Number>().Int32Value() | LOCK_NB;
  int err = FlockRetryingEintr(fd, operation);
  if (err == EWOULDBLOCK) {
    return Napi::Boolean::New(env, false);
  }
  if (err != 0) {
    ThrowErrno(env, err, "flock", OptionalPath(info, 2).c_str());
  }
  return Napi::Boolean::New(env, true);
}

// fstatInto(fd, out): fstat(2) of fd, its mode, owner and link count written into `out` (a
// Float64Array of 3, reused by the caller): what the state file checks of every open file it
// reads or locks, without the allocation of a whole fs.Stats per check.
Napi::Value FstatInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  struct stat st;
  if (::fstat(fd, &st) == -1) {
    ThrowErrno(env, errno, "fstat", OptionalPath(info, 2).c_str());
  }
  out[0] = st.st_mode;
  out[1] = st.st_uid;
  out[2] = static_cast<double>(st.st_nlink);
  return env.Undefined();
}

struct FlockRequest {
  int fd;
  int operation;
  std::string path;
  int err = 0;
  Napi::Promise::Deferred deferred;
  Napi::ThreadSafeFunction tsfn;

  FlockRequest(Napi::Env env, int fd, int operation, std::string path)
      : fd(fd), operation(operation), path(std::move(path)), deferred(env) {}
};

void SettleOnLoop(Napi::Env env, Napi::Function /*unused*/, FlockRequest* request) {
  if (env != nullptr) {
    if (request->err == 0) {
      request->deferred.Resolve(env.Undefined());
    } else {
      request->deferred.Reject(
          MakeErrnoError(env, request->err, "flock", request->path.c_str()).Value());
    }
  }
  delete request;
}

Napi::Value FlockAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int operation = info[1].As<Napi::Number>().Int32Value();
  // A free lock is taken at once on this thread: a thread is started only to wait for a lock
  // that is actually held (starting one costs far more than the flock itself).
  int err = FlockRetryingEintr(fd, operation | LOCK_NB);
  if (err != 0 && (err != EWOULDBLOCK || (operation & LOCK_NB) != 0)) {
    return RejectedWithErrno(env, err, "flock", OptionalPath(info, 2).c_str());
  }
  if (err == 0) {
    Napi::Promise::Deferred granted(env);
    granted.Resolve(env.Undefined());
    return granted.Promise();
  }
  auto* request = new FlockRequest(env, fd, operation, OptionalPath(info, 2));
  Napi::Promise promise = request->deferred.Promise();
  // The thread-safe function keeps the event loop alive while the lock is awaited, as a
  // pending fs request would.
  request->tsfn = Napi::ThreadSafeFunction::New(
      env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), "runcell.flockAsync", 0, 1);
  std::thread([request]() {
    request->err = FlockRetryingEintr(request->fd, request->operation);
    Napi::ThreadSafeFunction tsfn = request->tsfn;
    if (tsfn.BlockingCall(request, SettleOnLoop) != napi_ok) {
      delete request;  // The environment is going away; nobody is left to settle.
    }
    tsfn.Release();
  }).detach();
  return promise;
}

}  // namespace

void RegisterFlock(Napi::Env env, Napi::Object exports) {
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("tryFlock", Napi::Function::New(env, TryFlock, "tryFlock"));
  exports.Set("fstatInto", Napi::Function::New(env, FstatInto, "fstatInto"));
  exports.Set("flockAsync", Napi::Function::New(env, FlockAsync, "flockAsync"));
}

}  // namespace runcell
