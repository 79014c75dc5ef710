// The config.json that `runcell spec` writes: runc's default (`runc spec`), so a bundle made
// for one runs under the other. With `rootless`, runc's rootless variant: a user namespace
// mapping root to the caller, no network namespace, /sys bound from the host.
import { OCI_VERSION } from '../version';

export interface DefaultSpecOptions {
  /** Map container root to this host uid/gid in a new user namespace. */
  rootless?: { uid: number; gid: number };
}

const CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(options: DefaultSpecOptions = {}): Record<string, unknown> {
  const rootless = options.rootless;
  const namespaces = rootless
    ? ['pid', 'ipc', 'uts', 'mount', 'user']
    : ['pid', 'network', 'ipc', 'uts', 'mount'];
  const devptsOptions = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'];
  if (!rootless) devptsOptions.push('gid=5'); // gid 5 (tty) is not mapped in a rootless namespace
  const sysMount = rootless
    ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
    : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
  const linux: Record<string, unknown> = {};
  if (rootless) {
    linux.uidMappings = [{ containerID: 0, hostID: rootless.uid, size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: rootless.gid, size: 1 }];
  } else {
    linux.resources = { devices: [{ allow: false, access: 'rwm' }] };
  }
  linux.namespaces = namespaces.map((type) => ({ type }));
  linux.maskedPaths = [
    '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
    '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
  ];
  linux.readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...CAPABILITIES],
        effective: [...CAPABILITIES],
        permitted: [...CAPABILITIES],
        ambient: [...CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runcell',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: devptsOptions },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      sysMount,
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux,
  };
}
