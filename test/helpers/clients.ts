// podman and containerd as real clients of runcell, each in a world of its own under a temp
// directory (storage, state, daemon socket, cgroup parent), so that a test run touches nothing
// of the host's or another run's and leaves nothing behind: a local busybox image (no registry),
// podman with its cgroupfs manager and containerd started as a daemon by the test.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, commandExists, isRoot, run, waitFor, type RunResult } from './env';

export const IMAGE = 'localhost/busybox:latest';

/** Why a client cannot be tested here, or null. */
export function whyNoClient(...commands: string[]): string | null {
  if (!isRoot) return 'needs root';
  if (!fs.existsSync('/bin/busybox')) return 'needs busybox-static';
  const missing = commands.filter((c) => !commandExists(c));
  return missing.length > 0 ? `needs ${missing.join(', ')} (apt-get install -y podman containerd)` : null;
}

/** A root filesystem from busybox-static (every applet linked), and the same as a tarball. */
export function busyboxRootfs(dir: string): { rootfs: string; tar: string } {
  const rootfs = path.join(dir, 'busybox-rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (!fs.existsSync(path.join(rootfs, 'bin', applet))) fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  }
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  fs.writeFileSync(path.join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const tar = path.join(dir, 'busybox-rootfs.tar');
  execFileSync('tar', ['-C', rootfs, '--owner=0', '--group=0', '-cf', tar, '.']);
  return { rootfs, tar };
}

/**
 * An OCI image archive (image-layout in a tar) of one uncompressed layer, named `name` for
 * containerd's importer (the io.containerd.image.name annotation).
 */
export function ociArchive(layerTar: string, out: string, name = IMAGE): string {
  const layout = `${out}.d`;
  const blobs = path.join(layout, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    const digest = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, digest), data);
    return { digest: `sha256:${digest}`, size: data.length };
  };
  const layer = put(fs.readFileSync(layerTar));
  const config = put(Buffer.from(JSON.stringify({
    architecture: process.arch === 'x64' ? 'amd64' : process.arch, os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop() } }],
  }));
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  execFileSync('tar', ['-C', layout, '-cf', out, '.']);
  return out;
}

/** Every cgroup hierarchy's directory for `cgroup` (v1 controllers, the v2 mount). */
function cgroupDirs(cgroup: string): string[] {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 8 && ['cgroup', 'cgroup2'].includes(f[f.indexOf('-') + 1]))
    .map((f) => f[4]);
  return [...new Set(mounts)].map((m) => path.join(m, cgroup));
}

/** Removes a cgroup subtree (children first) in every hierarchy; what is still in use stays. */
export function removeCgroupTree(cgroup: string): void {
  const remove = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) remove(path.join(dir, e.name));
    try {
      fs.rmdirSync(dir);
    } catch { /* in use, or gone */ }
  };
  for (const dir of cgroupDirs(cgroup)) remove(dir);
}

/** The cgroup subtree exists in some hierarchy. */
export function cgroupExists(cgroup: string): boolean {
  return cgroupDirs(cgroup).some((d) => fs.existsSync(d));
}

/** Unmounts whatever is still mounted at or below `dir` (deepest first). */
export function unmountUnder(dir: string): void {
  const points = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4]).filter((p) => p !== undefined && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    try {
      execFileSync('umount', ['-l', p], { stdio: 'ignore' });
    } catch { /* gone already */ }
  }
}

/** Live processes whose command line contains `text`: their pids. */
export function pidsWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(text)) pids.push(Number(entry));
    } catch { /* exited */ }
  }
  return pids.filter((pid) => pid !== process.pid);
}

/** `command args...` quoted for sh (script(1) takes one command line). */
export function shellLine(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/**
 * Runs a client with a terminal as its stdin and stdout (`ctr run -t` refuses anything else),
 * through script(1); resolves with what the terminal showed and the client's exit status.
 */
export function onTerminal(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return run('timeout', ['-k', '5', String(Math.ceil(timeoutMs / 1000)), 'script', '-qec', shellLine(args), '/dev/null']);
}

/**
 * podman with its own storage (vfs: no overlay mounts), run root, temp dir, containers.conf
 * (runcell as the runtime, cgroupfs, no network set-up) and cgroup parent.
 */
export class Podman {
  readonly cgroupParent: string;
  private readonly globalArgs: string[];
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly dir: string) {
    this.cgroupParent = `/runcell-podman-${process.pid}`;
    fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    const conf = path.join(dir, 'containers.conf');
    // Podman's default rlimits (nofile and nproc 1048576) are above this host's hard limits,
    // which only CAP_SYS_RESOURCE could raise (runc fails on them as well): lower ones here.
    fs.writeFileSync(conf, [
      '[containers]',
      'default_ulimits = ["nofile=1024:1024", "nproc=16384:16384"]',
      'netns = "none"',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${path.join(dir, 'events.log')}"`,
      'runtime = "runcell"',
      'runtime_supports_json = ["runcell"]',
      '[engine.runtimes]',
      `runcell = ["${CLI}"]`,
      '',
    ].join('\n'));
    this.env = { ...process.env, CONTAINERS_CONF: conf };
    delete this.env.NODE_EXTRA_CA_CERTS;
    this.globalArgs = ['--root', path.join(dir, 'storage'), '--runroot', path.join(dir, 'run'), '--storage-driver', 'vfs',
      '--tmpdir', path.join(dir, 'tmp'), '--network-config-dir', path.join(dir, 'networks'), '--runtime', CLI,
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file'];
  }

  run(...args: string[]): Promise<RunResult> {
    return run('podman', [...this.globalArgs, ...args], { env: this.env });
  }

  /** The same with `input` on its stdin. */
  withInput(input: string, ...args: string[]): Promise<RunResult> {
    return run('podman', [...this.globalArgs, ...args], { env: this.env, input });
  }

  /** Whether the command succeeds (synchronous, for waitFor). */
  succeeds(...args: string[]): boolean {
    return spawnSync('podman', [...this.globalArgs, ...args], { env: this.env, stdio: 'ignore', timeout: 60_000 }).status === 0;
  }

  /** The same command with a terminal (for -t). */
  onTerminal(...args: string[]): Promise<RunResult> {
    return run('timeout', ['-k', '5', '60', 'script', '-qec', shellLine(['podman', ...this.globalArgs, ...args]), '/dev/null'], { env: this.env });
  }

  async importImage(tar: string): Promise<void> {
    const result = await this.run('import', '--change', 'CMD ["/bin/sh"]', tar, IMAGE);
    if (result.code !== 0) throw new Error(`podman import: ${result.stderr}`);
  }

  /** Removes every container and pod, then whatever they left: mounts, cgroups, files. */
  async cleanUp(): Promise<void> {
    const ids = (await this.run('ps', '--all', '--quiet', '--no-trunc')).stdout.split('\n').filter(Boolean);
    await this.run('pod', 'rm', '--all', '--force', '--time', '0');
    await this.run('rm', '--all', '--force', '--time', '0');
    // podman passes runcell no --root: its containers' state is in runcell's default root.
    if (ids.length > 0) await run(CLI, ['delete', '--force', ...ids]);
    for (const pid of pidsWith(path.join(this.dir, 'storage'))) { // a conmon that outlived its container
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    unmountUnder(this.dir);
    removeCgroupTree(this.cgroupParent);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A containerd daemon of the test's own (config, root, state and socket under `dir`), with the
 * busybox image imported into namespace `namespace` (native snapshotter: plain directories).
 * Tasks run under the runc shim with runcell as its runtime binary.
 */
export class Containerd {
  readonly namespace = `runcell-${process.pid}`;
  readonly address: string;
  private daemon?: ChildProcess;

  constructor(readonly dir: string) {
    this.address = path.join(dir, 'containerd.sock');
  }

  async start(): Promise<void> {
    const config = path.join(this.dir, 'config.toml');
    fs.writeFileSync(config, [
      'version = 2',
      `root = "${path.join(this.dir, 'root')}"`,
      `state = "${path.join(this.dir, 'state')}"`,
      // Not the CRI plugin (networks, its own cgroups); only what ctr uses.
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing",',
      '  "io.containerd.tracing.processor.v1.otlp"]',
      '[grpc]',
      `  address = "${this.address}"`,
      '[ttrpc]',
      `  address = "${this.address}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'));
    const log = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.daemon = spawn('containerd', ['--config', config], { stdio: ['ignore', log, log], cwd: this.dir });
    fs.closeSync(log);
    let exited = false;
    this.daemon.once('exit', () => (exited = true));
    await waitFor(() => exited || fs.existsSync(this.address), 'containerd to listen', 30_000);
    if (exited) throw new Error(`containerd did not start: ${fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8').slice(-2000)}`);
  }

  ctr(...args: string[]): Promise<RunResult> {
    return run('ctr', ['--address', this.address, '-n', this.namespace, ...args]);
  }

  /** `ctr ...` with a terminal (ctr run -t, task exec -t need one). */
  ctrOnTerminal(...args: string[]): Promise<RunResult> {
    return onTerminal(['ctr', '--address', this.address, '-n', this.namespace, ...args]);
  }

  /** `ctr run` options for a task of the runc shim with runcell as its runtime. */
  runtimeArgs(): string[] {
    return ['--runtime', 'io.containerd.runc.v2', '--runc-binary', CLI, '--snapshotter', 'native', ...this.fifoArgs()];
  }

  /** ctr's stdio FIFOs in our directory, not /run/containerd/fifo (`ctr run`, `task exec`). */
  fifoArgs(): string[] {
    return ['--fifo-dir', path.join(this.dir, 'fifo')];
  }

  async importImage(archive: string): Promise<void> {
    const result = await this.ctr('images', 'import', '--snapshotter', 'native', archive);
    if (result.code !== 0) throw new Error(`ctr images import: ${result.stderr}`);
  }

  /** The task's status in `ctr task ls` (RUNNING, PAUSED, STOPPED), or undefined. */
  taskStatus(id: string): string | undefined {
    const text = execFileSync('ctr', ['--address', this.address, '-n', this.namespace, 'task', 'ls'], { encoding: 'utf8' });
    return new RegExp(`^${id}\\s+\\d+\\s+(\\w+)`, 'm').exec(text)?.[1];
  }

  /** Removes every task and container, stops the daemon and the shims, then what they left. */
  async cleanUp(): Promise<void> {
    if (this.daemon !== undefined && this.daemon.exitCode === null) {
      const containers = (await this.ctr('containers', 'ls', '-q')).stdout.split('\n').filter(Boolean);
      for (const id of containers) {
        await this.ctr('task', 'rm', '-f', id);
        await this.ctr('containers', 'rm', id);
      }
      const exited = new Promise((resolve) => this.daemon!.once('exit', resolve));
      this.daemon.kill('SIGTERM');
      await exited;
    }
    // A shim names the daemon's socket on its command line.
    for (const pid of pidsWith(this.address)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch { /* gone */ }
    }
    // The runc shim's runtime root (runcell's --root) is per namespace, outside the state dir:
    // a container a killed shim left behind is deleted there.
    const runtimeRoot = `/run/containerd/runc/${this.namespace}`;
    if (fs.existsSync(runtimeRoot)) {
      const left = (await run(CLI, ['--root', runtimeRoot, 'list', '-q'])).stdout.split('\n').filter(Boolean);
      if (left.length > 0) await run(CLI, ['--root', runtimeRoot, 'delete', '--force', ...left]);
    }
    unmountUnder(this.dir);
    removeCgroupTree(`/${this.namespace}`);
    fs.rmSync(runtimeRoot, { recursive: true, force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
