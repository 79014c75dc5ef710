// The binary runcell-init runs from, out of the containers' reach (src/container/init-binary.ts
// decides which of the two and why):
//   readonlyBind(path) -> fd      open_tree(OPEN_TREE_CLONE) of the file, made read-only (and
//                                 nosuid, nodev) while detached: an O_PATH descriptor of a
//                                 mount that is attached nowhere
//   sealedCopy(path, name) -> fd  a memfd holding a copy of the file, sealed against any change
// Both descriptors are close-on-exec; the caller executes /proc/<its pid>/fd/<fd>.
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "errno_error.h"
#include "exports.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

namespace runcell {
namespace {

Napi::Value ReadonlyBind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open_tree", path.c_str());
  struct mount_attr attr = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "mount_setattr", path.c_str());
  }
  return Napi::Number::New(env, fd);
}

Napi::Value SealedCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  // MFD_EXEC (Linux 6.3) keeps the memfd executable where vm.memfd_noexec = 1 would seal it
  // against exec; older kernels refuse the flag (EINVAL) and make every memfd executable.
  int memfd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  if (memfd < 0 && errno == EINVAL) memfd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0) ThrowErrno(env, errno, "memfd_create", name.c_str());
  int file = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int err = file < 0 ? errno : 0;
  const char* syscall_name = "open";
  struct stat st;
  if (err == 0 && fstat(file, &st) != 0) err = errno, syscall_name = "fstat";
  for (off_t done = 0; err == 0 && done < st.st_size;) {
    ssize_t n = sendfile(memfd, file, &done, (size_t)(st.st_size - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) err = n < 0 ? errno : EIO, syscall_name = "sendfile";
  }
  if (file >= 0) close(file);
  if (err == 0 && fcntl(memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    err = errno, syscall_name = "fcntl";
  }
  if (err != 0) {
    close(memfd);
    ThrowErrno(env, err, syscall_name, path.c_str());
  }
  return Napi::Number::New(env, memfd);
}

}  // namespace

void RegisterExe(Napi::Env env, Napi::Object exports) {
  exports.Set("readonlyBind", Napi::Function::New(env, ReadonlyBind, "readonlyBind"));
  exports.Set("sealedCopy", Napi::Function::New(env, SealedCopy, "sealedCopy"));
}

}  // namespace runcell
