// setOOMScoreAdj(pid, score): the seed's setOOMScoreAdj, errno-exact.
//
// A process that is already gone is not an error (the write races with its exit): false on
// ENOENT from open or ESRCH from write. Everything else throws, notably EACCES when lowering
// the score below the process's oom_score_adj_min without CAP_SYS_RESOURCE, and EINVAL
// outside -1000..1000 (the kernel's own range check).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

Napi::Value SetOOMScoreAdj(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  int score = info[1].As<Napi::Number>().Int32Value();
  std::string path = "/proc/" + std::to_string(pid) + "/oom_score_adj";
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  } while (fd == -1 && errno == EINTR);
  if (fd == -1) {
    if (errno == ENOENT) {
      return Napi::Boolean::New(env, false);
    }
    ThrowErrno(env, errno, "open", path.c_str());
  }
  std::string value = std::to_string(score);
  ssize_t written;
  do {
    written = ::write(fd, value.data(), value.size());
  } while (written == -1 && errno == EINTR);
  int writeErrno = errno;
  ::close(fd);
  if (written == -1) {
    if (writeErrno == ESRCH) {
      return Napi::Boolean::New(env, false);
    }
    ThrowErrno(env, writeErrno, "write", path.c_str());
  }
  return Napi::Boolean::New(env, true);
}

}  // namespace

void RegisterOOM(Napi::Env env, Napi::Object exports) {
  exports.Set("setOOMScoreAdj", Napi::Function::New(env, SetOOMScoreAdj, "setOOMScoreAdj"));
}

}  // namespace runcell
