// `runcell demo`: a real container from nothing. A throwaway bundle whose root has the host's
// /usr, /bin, /sbin and /lib* bound read-only (or linked, where the host links them), its own
// /proc, /dev and /tmp, a hostname and every namespace; a shell in it shows what it sees.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Container } from './container/container';
import { runContainer } from './container/lifecycle';
import { defaultSpec } from './oci/default-spec';

const HOST_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

export const DEMO_SCRIPT = [
  'echo "I am process $$ of my pid namespace."',
  'echo "My hostname is $(hostname); the host\'s is not."',
  'echo "Processes I can see: $(ls /proc | grep -c "^[0-9]")."',
  'echo "My root: $(ls / | tr "\\n" " ")"',
  'echo "My network interfaces: $(ls /sys/class/net | tr "\\n" " ")"',
  'touch /usr/x 2>/dev/null || echo "The host\'s /usr is read-only to me."',
].join('; ');

export interface DemoOptions {
  /** The state directory (a temporary one by default). */
  root?: string;
  /** The container's stdin, stdout and stderr. */
  stdio?: [number, number, number];
}

/** Runs the demo container in the foreground; returns its exit status. Leaves nothing behind. */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-demo-'));
  const root = options.root ?? path.join(work, 'state');
  const id = `demo-${process.pid}`;
  try {
    const bundle = path.join(work, 'bundle');
    const rootfs = path.join(bundle, 'rootfs');
    for (const dir of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(rootfs, dir), { recursive: true });
    const spec = defaultSpec() as { process: Record<string, unknown>; hostname: string; mounts: object[] };
    for (const dir of HOST_DIRS) {
      const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
      if (stat === undefined) continue;
      if (stat.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(dir), path.join(rootfs, dir));
        continue;
      }
      fs.mkdirSync(path.join(rootfs, dir));
      spec.mounts.push({ destination: dir, type: 'bind', source: dir, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
    }
    spec.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'size=16m'] });
    spec.hostname = 'runcell-demo';
    spec.process.terminal = false;
    spec.process.args = ['/bin/sh', '-c', DEMO_SCRIPT];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
    const running = await runContainer(root, id, { bundle, stdio: options.stdio });
    return await running.exited;
  } finally {
    await Container.delete(root, id, { force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}
