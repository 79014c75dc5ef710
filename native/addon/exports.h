// One registration function per source file; addon.cc calls them all.
#pragma once

#include <napi.h>

namespace runcell {

void RegisterFlock(Napi::Env env, Napi::Object exports);
void RegisterProcess(Napi::Env env, Napi::Object exports);
void RegisterOOM(Napi::Env env, Napi::Object exports);
void RegisterSeccomp(Napi::Env env, Napi::Object exports);
void RegisterBpf(Napi::Env env, Napi::Object exports);
void RegisterExe(Napi::Env env, Napi::Object exports);
void RegisterSpawn(Napi::Env env, Napi::Object exports);

}  // namespace runcell
