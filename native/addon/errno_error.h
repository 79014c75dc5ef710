// Errors from system calls, shaped by the JavaScript ErrnoError class.
//
// The class is defined once, in TypeScript (src/sys/errno.ts), and handed to the addon by
// initialize(); C++ only supplies (errno, syscall, path) and never formats a message, so the
// shape and wording live in one place (better-sqlite3 does the same with SqliteError).
#pragma once

#include <napi.h>

namespace runcell {

struct AddonData {
  Napi::FunctionReference errnoErrorClass;
};

// Builds an ErrnoError for a failed system call. `path` may be null.
Napi::Error MakeErrnoError(Napi::Env env, int err, const char* syscall, const char* path);

// A promise already rejected with it: how asynchronous exports report a failure at once.
Napi::Value RejectedWithErrno(Napi::Env env, int err, const char* syscall, const char* path);

// Throws it (as a C++ exception that node-addon-api turns into a JavaScript throw).
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const char* path = nullptr);

// initialize(ErrnoError): registers the class. Called once by src/sys/native.ts.
Napi::Value Initialize(const Napi::CallbackInfo& info);

// errnoText(-errno): libuv's [name, text] of an errno, as Node's own errors word it
// (util.getSystemErrorMap() has them too, but builds a map of every errno on each call: ~0.2 ms
// for the first error of a process); undefined for one libuv does not know.
Napi::Value ErrnoText(const Napi::CallbackInfo& info);

// The optional trailing `path` argument that JavaScript passes only to name the file in an error.
std::string OptionalPath(const Napi::CallbackInfo& info, size_t index);

}  // namespace runcell
