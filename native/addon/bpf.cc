// bpf(2) for cgroup device filters: load a program, attach it to a cgroup directory, detach
// it, list what is attached, and reopen an attached program by its id. The instructions arrive
// encoded by TypeScript (src/container/device-filter.ts), which decides the policy and the order
// of the calls (attach the new program before detaching the old: src/container/cgroups.ts).
//
//   bpfProgLoad(type, instructions: Buffer, license, log?: Buffer) -> fd
//   bpfProgAttach(cgroupFd, progFd, attachType, flags, path?)
//   bpfProgDetach(cgroupFd, progFd, attachType, path?)
//   bpfProgQuery(cgroupFd, attachType, path?) -> { attachFlags, ids: [id] }
//   bpfProgGetFdById(id) -> fd
//
// A failure throws an ErrnoError naming the command (bpf_prog_load, ...) and, where given, the
// cgroup directory.
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

uint64_t PointerTo(const void* pointer) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(pointer));
}

long Bpf(int command, union bpf_attr* attr) {
  long result;
  do {
    result = syscall(__NR_bpf, command, attr, sizeof(*attr));
  } while (result < 0 && errno == EINTR);
  return result;
}

uint32_t U32(const Napi::Value& value) { return value.As<Napi::Number>().Uint32Value(); }

Napi::Value ProgLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> instructions = info[1].As<Napi::Buffer<uint8_t>>();
  std::string license = info[2].As<Napi::String>().Utf8Value();
  if (instructions.Length() % sizeof(struct bpf_insn) != 0) ThrowErrno(env, EINVAL, "bpf_prog_load");
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = U32(info[0]);
  attr.insns = PointerTo(instructions.Data());
  attr.insn_cnt = static_cast<uint32_t>(instructions.Length() / sizeof(struct bpf_insn));
  attr.license = PointerTo(license.c_str());
  // The verifier's log, when the caller passes room for it: why a program was refused.
  if (info.Length() > 3 && info[3].IsBuffer()) {
    Napi::Buffer<char> log = info[3].As<Napi::Buffer<char>>();
    if (log.Length() > 0) {
      log.Data()[0] = '\0';
      attr.log_level = 1;
      attr.log_buf = PointerTo(log.Data());
      attr.log_size = static_cast<uint32_t>(log.Length());
    }
  }
  long fd = Bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0) ThrowErrno(env, errno, "bpf_prog_load");
  return Napi::Number::New(env, static_cast<double>(fd));
}

Napi::Value ProgAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = OptionalPath(info, 4);
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = U32(info[0]);
  attr.attach_bpf_fd = U32(info[1]);
  attr.attach_type = U32(info[2]);
  attr.attach_flags = U32(info[3]);
  if (Bpf(BPF_PROG_ATTACH, &attr) < 0) ThrowErrno(env, errno, "bpf_prog_attach", path.c_str());
  return env.Undefined();
}

Napi::Value ProgDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = OptionalPath(info, 3);
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = U32(info[0]);
  attr.attach_bpf_fd = U32(info[1]);
  attr.attach_type = U32(info[2]);
  if (Bpf(BPF_PROG_DETACH, &attr) < 0) ThrowErrno(env, errno, "bpf_prog_detach", path.c_str());
  return env.Undefined();
}

Napi::Value ProgQuery(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = OptionalPath(info, 2);
  // A cgroup holds at most 64 programs per attach type today; ENOSPC reports the real count.
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  for (;;) {
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = U32(info[0]);
    attr.query.attach_type = U32(info[1]);
    attr.query.prog_ids = PointerTo(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (Bpf(BPF_PROG_QUERY, &attr) == 0) break;
    if (errno != ENOSPC || attr.query.prog_cnt <= ids.size()) ThrowErrno(env, errno, "bpf_prog_query", path.c_str());
    ids.resize(attr.query.prog_cnt);
  }
  Napi::Array list = Napi::Array::New(env, attr.query.prog_cnt);
  for (uint32_t i = 0; i < attr.query.prog_cnt; i++) list.Set(i, Napi::Number::New(env, ids[i]));
  Napi::Object result = Napi::Object::New(env);
  result.Set("attachFlags", Napi::Number::New(env, attr.query.attach_flags));
  result.Set("ids", list);
  return result;
}

Napi::Value ProgGetFdById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_id = U32(info[0]);
  long fd = Bpf(BPF_PROG_GET_FD_BY_ID, &attr);
  if (fd < 0) ThrowErrno(env, errno, "bpf_prog_get_fd_by_id");
  return Napi::Number::New(env, static_cast<double>(fd));
}

}  // namespace

void RegisterBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("bpfProgLoad", Napi::Function::New(env, ProgLoad, "bpfProgLoad"));
  exports.Set("bpfProgAttach", Napi::Function::New(env, ProgAttach, "bpfProgAttach"));
  exports.Set("bpfProgDetach", Napi::Function::New(env, ProgDetach, "bpfProgDetach"));
  exports.Set("bpfProgQuery", Napi::Function::New(env, ProgQuery, "bpfProgQuery"));
  exports.Set("bpfProgGetFdById", Napi::Function::New(env, ProgGetFdById, "bpfProgGetFdById"));
}

}  // namespace runcell
