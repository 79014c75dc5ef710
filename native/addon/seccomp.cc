// compileSeccomp(filter): a seccomp filter, compiled by libseccomp (the library runc, crun and
// youki use) into the BPF program the init loads with seccomp(2) just before execve. The
// filter arrives already decided by TypeScript (src/container/seccomp.ts): action numbers,
// architecture and syscall names, comparison operators. Here we only call libseccomp.
//
//   filter = { defaultAction, architectures: [name], syscalls: [{ name, action,
//              args: [{ index, op, value, valueTwo }] }] }
//   returns { program: Buffer, skipped: [name] }  (skipped: names this libseccomp does not know)
#include <errno.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

uint64_t ToU64(Napi::Value value) {
  if (value.IsBigInt()) {
    bool lossless = false;
    return value.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(value.As<Napi::Number>().Int64Value());
}

struct FilterContext {
  scmp_filter_ctx ctx;
  explicit FilterContext(uint32_t action) : ctx(seccomp_init(action)) {}
  ~FilterContext() {
    if (ctx != nullptr) seccomp_release(ctx);
  }
};

Napi::Value CompileSeccomp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object filter = info[0].As<Napi::Object>();
  FilterContext filterContext(static_cast<uint32_t>(ToU64(filter.Get("defaultAction"))));
  if (filterContext.ctx == nullptr) ThrowErrno(env, EINVAL, "seccomp_init");
  scmp_filter_ctx ctx = filterContext.ctx;

  Napi::Array architectures = filter.Get("architectures").As<Napi::Array>();
  for (uint32_t i = 0; i < architectures.Length(); i++) {
    std::string name = architectures.Get(i).As<Napi::String>().Utf8Value();
    uint32_t arch = seccomp_arch_resolve_name(name.c_str());
    if (arch == 0) ThrowErrno(env, EINVAL, "seccomp_arch_resolve_name", name.c_str());
    int rc = seccomp_arch_add(ctx, arch);
    if (rc != 0 && rc != -EEXIST) ThrowErrno(env, -rc, "seccomp_arch_add", name.c_str());
  }

  Napi::Array skipped = Napi::Array::New(env);
  Napi::Array syscalls = filter.Get("syscalls").As<Napi::Array>();
  for (uint32_t i = 0; i < syscalls.Length(); i++) {
    Napi::Object rule = syscalls.Get(i).As<Napi::Object>();
    std::string name = rule.Get("name").As<Napi::String>().Utf8Value();
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      skipped.Set(skipped.Length(), Napi::String::New(env, name));
      continue;
    }
    Napi::Array args = rule.Get("args").As<Napi::Array>();
    std::vector<scmp_arg_cmp> comparisons;
    for (uint32_t j = 0; j < args.Length(); j++) {
      Napi::Object arg = args.Get(j).As<Napi::Object>();
      scmp_arg_cmp cmp;
      cmp.arg = arg.Get("index").As<Napi::Number>().Uint32Value();
      cmp.op = static_cast<scmp_compare>(arg.Get("op").As<Napi::Number>().Uint32Value());
      cmp.datum_a = ToU64(arg.Get("value"));
      cmp.datum_b = ToU64(arg.Get("valueTwo"));
      comparisons.push_back(cmp);
    }
    uint32_t action = static_cast<uint32_t>(ToU64(rule.Get("action")));
    int rc = seccomp_rule_add_array(ctx, action, nr, comparisons.size(), comparisons.data());
    // -EACCES: the rule's action is the default action, which libseccomp refuses as redundant.
    if (rc != 0 && rc != -EACCES) ThrowErrno(env, -rc, "seccomp_rule_add", name.c_str());
  }

  int fd = memfd_create("runcell-seccomp", MFD_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "memfd_create");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc != 0) {
    close(fd);
    ThrowErrno(env, -rc, "seccomp_export_bpf");
  }
  off_t size = lseek(fd, 0, SEEK_END);
  std::vector<uint8_t> program(size > 0 ? size : 0);
  ssize_t got = size > 0 ? pread(fd, program.data(), program.size(), 0) : 0;
  int readErrno = errno;
  close(fd);
  if (got < 0) ThrowErrno(env, readErrno, "pread");
  Napi::Object result = Napi::Object::New(env);
  result.Set("program", Napi::Buffer<uint8_t>::Copy(env, program.data(), static_cast<size_t>(got)));
  result.Set("skipped", skipped);
  return result;
}

// seccompVersion(): the version of the libseccomp the addon runs with ("2.5.4"), as
// `runcell features` reports it.
Napi::Value SeccompVersion(const Napi::CallbackInfo& info) {
  const struct scmp_version* v = seccomp_version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro));
}

}  // namespace

void RegisterSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp, "compileSeccomp"));
  exports.Set("seccompVersion", Napi::Function::New(env, SeccompVersion, "seccompVersion"));
}

}  // namespace runcell
