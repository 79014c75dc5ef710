#include "errno_error.h"

#include <uv.h>

#include <cstring>

namespace runcell {

Napi::Error MakeErrnoError(Napi::Env env, int err, const char* syscall, const char* path) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data == nullptr || data->errnoErrorClass.IsEmpty()) {
    return Napi::Error::New(env, "runcell addon used before initialize(ErrnoError)");
  }
  Napi::Value pathValue = path != nullptr && path[0] != '\0'
                              ? Napi::Value(Napi::String::New(env, path))
                              : env.Undefined();
  Napi::Object error = data->errnoErrorClass.New(
      {Napi::Number::New(env, err), Napi::String::New(env, syscall), pathValue});
  return Napi::Error(env, error);
}

Napi::Value RejectedWithErrno(Napi::Env env, int err, const char* syscall, const char* path) {
  Napi::Promise::Deferred deferred(env);
  deferred.Reject(MakeErrnoError(env, err, syscall, path).Value());
  return deferred.Promise();
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path) {
  throw MakeErrnoError(env, err, syscall, path);
}

Napi::Value Initialize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "initialize() expects the ErrnoError class");
  }
  AddonData* data = env.GetInstanceData<AddonData>();
  data->errnoErrorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value ErrnoText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = info[0].As<Napi::Number>().Int32Value();
  char name[64];
  char text[256];
  uv_err_name_r(err, name, sizeof name);
  // libuv's words for an errno it does not know: the caller has its own (ECHILD, ...).
  if (strncmp(name, "Unknown system error", strlen("Unknown system error")) == 0) return env.Undefined();
  uv_strerror_r(err, text, sizeof text);
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::String::New(env, name));
  pair.Set(1u, Napi::String::New(env, text));
  return pair;
}

std::string OptionalPath(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() > index && info[index].IsString()) {
    return info[index].As<Napi::String>().Utf8Value();
  }
  return std::string();
}

}  // namespace runcell
