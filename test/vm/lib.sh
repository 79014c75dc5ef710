# Shared by test/vm/{build-image,run,ssh,stop,smoke,test}: where things are, host tools, and
# booting / reaching / stopping a guest. Sourced, not run.
# shellcheck shell=bash

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$VM_DIR/../.." && pwd -P)
CACHE=${RUNCELL_VM_CACHE:-/var/cache/runcell-vm}
SUITE=bookworm
RUNDIR="$CACHE/run"               # state of running VMs
VM_CPUS=${RUNCELL_VM_CPUS:-2}
VM_MEM=${RUNCELL_VM_MEM:-4096}
BOOT_TIMEOUT=${RUNCELL_VM_BOOT_TIMEOUT:-400}
NINEP_CACHE=${RUNCELL_VM_9P_CACHE:-loose}
# quiet: every line on the emulated serial port costs; tsc=reliable: TCG's TSC is one clock for all
# vCPUs, and the kernel's fallback (HPET) is slow to read under TCG.
KERNEL_CMDLINE="root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all panic=-1 net.ifnames=0 mitigations=off tsc=reliable quiet loglevel=3 systemd.show_status=0"

SSH_EXTRA=()

# The image's recipe: build-image, packages.txt, guest/ and the host's node version. An image is
# cached as $CACHE/images/<hash of its recipe>, so work trees with different recipes each have
# theirs; build-image keeps the few last used.
recipe_hash() {
  {
    echo "suite $SUITE"
    sha256sum "$VM_DIR/build-image" "$VM_DIR/packages.txt" | awk '{print $1}'
    (cd "$VM_DIR/guest" && find . \( -type f -o -type l \) -print | LC_ALL=C sort | while read -r f; do
      printf '%s %s\n' "$f" "$(stat -c %a "$f")"; sha256sum <"$f"; done)
    echo "node $(node --version)"
  } | sha256sum | cut -c1-16
}
HASH=$(recipe_hash)
IMAGE="$CACHE/images/$HASH"

log() { printf '[vm] %s\n' "$*" >&2; }
die() { printf '[vm] error: %s\n' "$*" >&2; exit 1; }

# Installs missing host tools from Debian's packages.
ensure_host_tools() {
  local missing=() pair
  for pair in qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils debootstrap:debootstrap \
              mkfs.ext4:e2fsprogs ssh:openssh-client ssh-keygen:openssh-client flock:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing host tools: ${missing[*]}"
  apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}

# TCG unless /dev/kvm is real hardware KVM. A PVM /dev/kvm (kvm_pvm loaded) runs only kernels
# built for PVM: Debian's hangs at boot on it.
accel_args() {
  case "${RUNCELL_VM_ACCEL:-auto}" in
    kvm) echo "-accel kvm -cpu host"; return ;;
    tcg) echo "-accel tcg,thread=multi -cpu max"; return ;;
  esac
  if [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ] && { [ -e /sys/module/kvm_intel ] || [ -e /sys/module/kvm_amd ]; }; then
    echo "-accel kvm -cpu host"
  else
    echo "-accel tcg,thread=multi -cpu max"
  fi
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# ssh to the guest whose state dir is $1; the rest is ssh's arguments.
vm_ssh() {
  local state=$1; shift
  ssh -q -i "$IMAGE/id_ed25519" -p "$(cat "$state/port")" "${SSH_EXTRA[@]}" \
    -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o ConnectTimeout=10 -o ServerAliveInterval=15 -o ServerAliveCountMax=8 \
    root@127.0.0.1 "$@"
}

vm_ssh_n() { # as vm_ssh, with stdin from /dev/null
  local SSH_EXTRA=(-n); vm_ssh "$@"
}

vm_alive() { # state dir
  local pid
  pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null
}

# Boots a guest. $1: state dir (made here), $2: the disk to boot, "overlay" (a throwaway qcow2
# over the cached image: the image is never written) or "direct" (writes the image: build only),
# $3: the directory to share at the same path, or "" for none.
vm_boot() {
  local state=$1 mode=$2 share=$3 disk port
  mkdir -p "$state"
  if [ "$mode" = overlay ]; then
    disk="$state/overlay.qcow2"
    qemu-img create -q -f qcow2 -F raw -b "$IMAGE/disk.raw" "$disk" >/dev/null
    touch "$IMAGE/last-used"
    set -- -drive "file=$disk,if=virtio,format=qcow2,cache=unsafe,discard=unmap"
  else
    disk=$mode
    set -- -drive "file=$disk,if=virtio,format=raw,cache=writeback"
  fi
  local kdir; kdir=$(dirname "$disk"); [ "$mode" = overlay ] && kdir=$IMAGE
  port=$(free_port)
  echo "$port" >"$state/port"
  [ -n "$share" ] && echo "$share" >"$state/share"
  : >"$state/console.log"
  # shellcheck disable=SC2046
  qemu-system-x86_64 -name runcell-vm -machine q35 $(accel_args) -smp "$VM_CPUS" -m "$VM_MEM" \
    -kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.img" -append "$KERNEL_CMDLINE" \
    "$@" \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=n0 \
    -device virtio-rng-pci \
    ${share:+-virtfs "local,path=$share,mount_tag=work,security_model=passthrough,multidevs=remap,id=work"} \
    -display none -monitor none -serial "file:$state/console.log" -no-reboot \
    -daemonize -pidfile "$state/qemu.pid" \
    || die "qemu failed to start (see $state/console.log)"
  vm_wait "$state"
  if [ -n "$share" ]; then
    vm_ssh_n "$state" "mkdir -p '$share' && { mountpoint -q '$share' || mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=$NINEP_CACHE work '$share'; }" \
      || die "mounting the 9p share $share in the guest failed"
  fi
}

vm_wait() { # state dir: until ssh answers
  local state=$1 start=$SECONDS
  while ! vm_ssh_n "$state" true 2>/dev/null; do
    if ! vm_alive "$state"; then
      tail -n 40 "$state/console.log" >&2
      die "the VM exited while booting (console log: $state/console.log)"
    fi
    if [ $((SECONDS - start)) -ge "$BOOT_TIMEOUT" ]; then
      tail -n 40 "$state/console.log" >&2
      vm_kill "$state"
      die "the VM did not answer ssh within ${BOOT_TIMEOUT}s (console log: $state/console.log)"
    fi
    sleep 2
  done
  log "guest up after $((SECONDS - start))s"
}

vm_kill() { # state dir: stop qemu (the overlay is throwaway, no clean shutdown needed)
  local state=$1 pid i
  pid=$(cat "$state/qemu.pid" 2>/dev/null) || return 0
  if vm_alive "$state"; then
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do vm_alive "$state" || break; sleep 0.2; done
    vm_alive "$state" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$state/qemu.pid"
}

vm_poweroff() { # state dir: clean shutdown (build: the disk is kept), then qemu exits (-no-reboot)
  local state=$1 i
  vm_ssh_n "$state" 'sync; systemctl poweroff' >/dev/null 2>&1 || true
  for i in $(seq 300); do vm_alive "$state" || { rm -f "$state/qemu.pid"; return 0; }; sleep 0.5; done
  log "the VM did not power off in 150s: killing it"
  vm_kill "$state"
}

# The state dir of the kept VM of this work tree.
kept_state() { echo "$RUNDIR/kept-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"; }

# Quotes a command for the remote shell: one argument is a shell command line (as with ssh),
# several are a command and its arguments.
remote_command() {
  if [ $# -eq 1 ]; then printf '%s' "$1"; else printf '%q ' "$@"; fi
}

# The directory to run in: the caller's, if inside the shared tree, else the tree's root.
remote_cwd() {
  local here; here=$(pwd -P)
  case "$here/" in "$REPO"/*) echo "$here" ;; *) echo "$REPO" ;; esac
}

vm_exec() { # state dir, command...: runs as root in the guest in remote_cwd, with RUNCELL_VM=1
  local state=$1; shift
  local cmd; cmd=$(remote_command "$@")
  vm_ssh "$state" "cd $(printf '%q' "$(remote_cwd)") && export RUNCELL_VM=1 && $cmd"
}

image_ready() { [ -e "$IMAGE/disk.raw" ] && [ -e "$IMAGE/vmlinuz" ] && [ -e "$IMAGE/id_ed25519" ]; }
