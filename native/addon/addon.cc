// The addon's one registration table. The typed surface is declared in src/sys/native.ts.
#include <linux/bpf.h>
#include <sys/file.h>
#include <sys/wait.h>

#include "errno_error.h"
#include "exports.h"

namespace runcell {
namespace {

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("LOCK_SH", LOCK_SH);
  constants.Set("LOCK_EX", LOCK_EX);
  constants.Set("LOCK_NB", LOCK_NB);
  constants.Set("LOCK_UN", LOCK_UN);
  constants.Set("WNOHANG", WNOHANG);
  constants.Set("WUNTRACED", WUNTRACED);
  constants.Set("WCONTINUED", WCONTINUED);
  constants.Set("WALL", __WALL);
  constants.Set("BPF_PROG_TYPE_CGROUP_DEVICE", static_cast<uint32_t>(BPF_PROG_TYPE_CGROUP_DEVICE));
  constants.Set("BPF_CGROUP_DEVICE", static_cast<uint32_t>(BPF_CGROUP_DEVICE));
  constants.Set("BPF_F_ALLOW_MULTI", static_cast<uint32_t>(BPF_F_ALLOW_MULTI));
  return constants;
}

}  // namespace
}  // namespace runcell

// NODE_API_MODULE pastes the function name into an identifier, so Init lives outside the namespace.
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace runcell;
  // Instance data rather than statics, so that each worker thread that loads the addon has
  // its own ErrnoError class.
  env.SetInstanceData(new AddonData());
  exports.Set("initialize", Napi::Function::New(env, Initialize, "initialize"));
  exports.Set("errnoText", Napi::Function::New(env, ErrnoText, "errnoText"));
  exports.Set("constants", Constants(env));
  RegisterFlock(env, exports);
  RegisterProcess(env, exports);
  RegisterOOM(env, exports);
  RegisterSeccomp(env, exports);
  RegisterBpf(env, exports);
  RegisterExe(env, exports);
  RegisterSpawn(env, exports);
  return exports;
}

NODE_API_MODULE(runcell_native, Init)
