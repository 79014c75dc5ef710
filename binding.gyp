{
  "targets": [
    {
      # The N-API addon: one system call (or one fixed open/write/close sequence) per export,
      # errno reported exactly, no policy. See src/sys/native.ts for the typed surface.
      "target_name": "runcell_native",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/errno_error.cc",
        "native/addon/flock.cc",
        "native/addon/process.cc",
        "native/addon/oom.cc",
        "native/addon/seccomp.cc",
        "native/addon/bpf.cc",
        "native/addon/exe.cc",
        "native/addon/spawn.cc"
      ],
      "libraries": [ "-lseccomp" ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": [ "NAPI_VERSION=9" ],
      "cflags": [ "-O2", "-fstack-protector-strong", "-fvisibility=hidden", "-Wall", "-Wextra" ],
      "cflags_cc": [ "-std=c++17", "-fvisibility=hidden" ]
    },
    {
      # The container's native processes: gofer (host side) and init (inside). A plain
      # executable, single-threaded, no Node: clone, setns and mount must not run in Node.
      "target_name": "runcell-init",
      "type": "executable",
      "sources": [ "native/init/main.c", "native/init/plan.c", "native/init/ops.c", "native/init/resolve.c" ],
      "cflags": [ "-Os", "-Wall", "-Wextra", "-fstack-protector-strong", "-ffunction-sections", "-fdata-sections" ],
      # Static: no shared libraries mapped into every container's init and gofer, so the two
      # together stay well under a megabyte resident.
      "ldflags": [ "-static", "-Wl,--gc-sections" ]
    },
    {
      # Test only: the conformance harness's probe (test/conformance/), copied into a busybox
      # root filesystem and run under runc and under runcell. Static, like runcell-init, so it
      # needs nothing from the image.
      "target_name": "runcell-probe",
      "type": "executable",
      "sources": [ "native/probe/probe.c" ],
      "cflags": [ "-O2", "-Wall", "-Wextra" ],
      "ldflags": [ "-static" ]
    },
    {
      # The C floor of `runcell bench locks --baseline`: the same lock-and-read loop, nothing else.
      "target_name": "runcell-lock-floor",
      "type": "executable",
      "sources": [ "native/bench/lock_floor.c" ],
      "cflags": [ "-O2", "-Wall", "-Wextra" ]
    }
  ]
}
