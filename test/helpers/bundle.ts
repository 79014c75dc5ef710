// Bundles for integration tests: a busybox-static root filesystem and runc's default spec,
// adjusted per test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSpec } from '../../src';
import { isRoot } from './env';

const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'cat', 'sleep', 'hostname', 'ls', 'id', 'true', 'false', 'grep', 'wc', 'head', 'pwd',
  'touch', 'mkdir', 'env', 'readlink', 'stat', 'kill', 'ps', 'mount', 'test', 'tr', 'sort', 'uname'];

/** Why privileged tests cannot run here, or null when they can. */
export function whyNoContainers(): string | null {
  if (!isRoot) return 'needs root (namespaces, mounts)';
  if (!fs.existsSync(BUSYBOX)) return 'needs busybox-static (apt-get install -y busybox-static)';
  return null;
}

export type SpecEdit = (spec: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A bundle in `dir` running `args`; `edit` adjusts the spec. Returns the bundle path. */
export function makeBundle(dir: string, args: string[], edit: SpecEdit = () => {}): string {
  const bin = path.join(dir, 'rootfs', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  if (!fs.existsSync(path.join(bin, 'busybox'))) {
    fs.copyFileSync(BUSYBOX, path.join(bin, 'busybox'));
    fs.chmodSync(path.join(bin, 'busybox'), 0o755);
    for (const applet of APPLETS) fs.symlinkSync('busybox', path.join(bin, applet));
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(dir, 'rootfs', d), { recursive: true });
  }
  const spec = defaultSpec() as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  spec.process.terminal = false;
  spec.process.args = args;
  edit(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
