// In the container, a cgroup mount (runc's default spec: /sys/fs/cgroup, type "cgroup") is the
// container's own cgroup and nothing else, read-only: it reads its own limits, cannot raise
// them, freeze itself, move itself, or see any other cgroup. On v1 and hybrid hosts (this
// machine) and, in the VM (npm run test:vm), on pure v2.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cgroup, detectLayout } from '../../src/container/cgroups';
import { commandExists, run, runcell, useScratchContainer } from '../helpers/env';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
const layout = skip === null ? detectLayout() : { v1: new Map<string, string>(), unified: null };
const pureV2 = new Cgroup(layout, '/').isV2;
const onlyV1 = pureV2 ? ' (skipped: needs cgroup v1 or hybrid; this host is pure v2)' : '';
const onlyV2 = pureV2 ? '' : ' (skipped: needs pure cgroup v2: npm run test:vm)';
const noRunc = commandExists('runc') ? '' : ' (skipped: needs runc, the reference runtime)';

let dir: string;
let root: string;
let id: string;
useScratchContainer('cgv', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide

const MEMORY = 64 * 1024 * 1024;
const cgroupNs: SpecEdit = (spec) => spec.linux.namespaces.push({ type: 'cgroup' });

/** A bundle of runc's default spec running `args`, with 64 MiB and 50 pids as its limits. */
const bundleOf = (args: string[], edits: SpecEdit[]) => makeBundle(path.join(dir, 'bundle'), args, (spec) => {
  spec.linux.resources = { ...spec.linux.resources, memory: { limit: MEMORY }, pids: { limit: 50 } };
  for (const edit of edits) edit(spec);
});

/** Runs `script` in such a container (run: created, started, deleted), its output. */
async function inContainer(script: string, ...edits: SpecEdit[]): Promise<string> {
  const result = await runcell(['--root', root, 'run', '-b', bundleOf(['sh', '-c', script], edits), id]);
  expect(result).toMatchObject({ stderr: '', code: 0 });
  return result.stdout;
}

/** The container's directory of a v1 controller (or of v2) on the host. */
const hostDir = (controller: string) => path.join(pureV2 ? layout.unified! : layout.v1.get(controller)!, 'runcell', id);
/** The same in the container's view. */
const viewOf = (controller: string) => (pureV2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${path.basename(layout.v1.get(controller)!)}`);

/** A shell loop that tries to write each file and says how that went. */
const tryWrites = (files: string[], value: string) =>
  files.map((f) => `if msg=$( { echo ${value} > ${f}; } 2>&1 ); then echo "${f}: written"; else echo "${f}: $msg"; fi`).join('; ');

describe.skipIf(skip !== null)(`the container's cgroup view${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const [name, edits] of [['without a cgroup namespace', []], ['with a cgroup namespace', [cgroupNs]]] as const) {
    it(`shows its own limits and refuses every write (EROFS), ${name}`, async () => {
      const memoryFile = `${viewOf('memory')}/${pureV2 ? 'memory.max' : 'memory.limit_in_bytes'}`;
      const writable = pureV2
        ? ['pids.max', 'memory.max', 'cgroup.procs', 'cgroup.freeze', 'cgroup.subtree_control'].map((f) => `/sys/fs/cgroup/${f}`)
        : [`${viewOf('pids')}/pids.max`, memoryFile, `${viewOf('memory')}/cgroup.procs`, `${viewOf('freezer')}/freezer.state`,
          `${viewOf('pids')}/cgroup.procs`];
      const out = await inContainer(
        `cat ${memoryFile} ${viewOf('pids')}/pids.max; ${tryWrites(writable, '$$')}; ` +
        `mkdir ${viewOf('memory')}/child 2>&1; touch /sys/fs/cgroup/new 2>&1; exit 0`, ...edits);
      const lines = out.trim().split('\n');
      expect(lines.slice(0, 2)).toEqual([String(MEMORY), '50']);
      for (const file of writable) expect(lines).toContain(`${file}: sh: can't create ${file}: Read-only file system`);
      expect(lines).toContain(`mkdir: can't create directory '${viewOf('memory')}/child': Read-only file system`);
      expect(lines).toContain('touch: /sys/fs/cgroup/new: Read-only file system');
    });
  }

  it('is read-only even when the mount\'s options ask for rw, and says so', async () => {
    const bundle = bundleOf(['sh', '-c', tryWrites([`${viewOf('pids')}/pids.max`], 'max')], [(spec) => {
      spec.mounts.find((m: { type: string }) => m.type === 'cgroup').options = ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'];
    }]);
    const result = await runcell(['--root', root, 'run', '-b', bundle, id]);
    expect(result.stdout).toBe(`${viewOf('pids')}/pids.max: sh: can't create ${viewOf('pids')}/pids.max: Read-only file system\n`);
    expect(result.stderr).toMatch(/level=warning msg="config.json: config.mounts\[6\].options: \\"rw\\" ignored: the container's cgroup is always mounted read-only, nosuid, nodev and noexec"\n$/);
    expect(result.code).toBe(0);
  });

  for (const [name, edits] of [['without a cgroup namespace', []], ['with a cgroup namespace', [cgroupNs]]] as const) {
    it(`shows nothing but its own directory: no sibling, no parent, the same files as on the host, ${name}`, async () => {
      const bundle = bundleOf(['sleep', '1000'], [...edits]);
      expect(await runcell(['--root', root, 'run', '-d', '-b', bundle, id])).toMatchObject({ code: 0 });
      const hierarchies = pureV2 ? [] : [...new Set([...layout.v1.values(), ...(layout.unified ? [layout.unified] : [])])];
      const ls = async (dir: string) => {
        const result = await runcell(['--root', root, 'exec', id, 'ls', '-a', dir]);
        expect(result).toMatchObject({ code: 0, stderr: '' });
        return result.stdout.trim().split('\n').filter((e) => e !== '.' && e !== '..').sort();
      };
      const dirs = (host: string) => fs.readdirSync(host).filter((e) => fs.statSync(path.join(host, e)).isDirectory());
      if (pureV2) {
        expect(await ls('/sys/fs/cgroup')).toEqual(fs.readdirSync(hostDir('memory')).sort());
        expect(dirs(hostDir('memory'))).toEqual([]); // so nothing of the host's tree: no "runcell" sibling
        return;
      }
      // Each hierarchy under the host's name for its mount point (cpu,cpuacct style names also
      // as links to it). No name=systemd: runcell makes no cgroup there.
      const names = hierarchies.map((m) => path.basename(m));
      const links = names.flatMap((n) => (n.includes(',') ? n.split(',').filter((c) => !names.includes(c)) : []));
      expect(await ls('/sys/fs/cgroup')).toEqual([...names, ...links].sort());
      for (const mountPoint of hierarchies) {
        const host = path.join(mountPoint, 'runcell', id);
        expect(await ls(`/sys/fs/cgroup/${path.basename(mountPoint)}`)).toEqual(fs.readdirSync(host).sort());
        expect(dirs(host)).toEqual([]);
      }
    });
  }

  it('with a cgroup namespace, /proc/self/cgroup names its cgroup "/"; without, the host\'s path', async () => {
    const withNs = await inContainer('cat /proc/self/cgroup', cgroupNs);
    const lines = withNs.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\d+:[^:]*:\/$/);
    const without = await inContainer('cat /proc/self/cgroup');
    expect(without).toContain(`0::/runcell/${id}\n`);
  });

  it('in a user namespace too', async () => {
    const userNs: SpecEdit = (spec) => {
      spec.linux.namespaces.push({ type: 'user' });
      spec.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    };
    fs.chmodSync(dir, 0o755); // the mapped root (host uid 200000) must reach the bundle
    for (const edits of [[userNs], [userNs, cgroupNs]]) {
      const out = await inContainer(`cat ${viewOf('pids')}/pids.max; ${tryWrites([`${viewOf('pids')}/pids.max`], 'max')}`, ...edits);
      // (The files are not the mapped root's either: the host's root owns them.)
      expect(out).toBe(`50\n${viewOf('pids')}/pids.max: sh: can't create ${viewOf('pids')}/pids.max: Read-only file system\n`);
    }
  });

  it.skipIf(!pureV2)(`pure v2 with a cgroup namespace: a fresh cgroup2 mount whose root is the container's cgroup${onlyV2}`, async () => {
    const out = await inContainer('grep " /sys/fs/cgroup " /proc/self/mountinfo', cgroupNs);
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - TYPE SOURCE SUPER
    const [, , , mountRoot, , options] = out.split(' ');
    expect(mountRoot).toBe('/');
    expect(options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
    expect(out).toContain(' - cgroup2 ');
  });

  it.skipIf(pureV2 || noRunc !== '')(`v1: the same hierarchies and files as runc shows, unified added, name=systemd left out${onlyV1}${noRunc}`, async () => {
    const script = 'for h in /sys/fs/cgroup/*; do echo "$h $(ls $h | wc -l)"; done; cat /sys/fs/cgroup/memory/memory.limit_in_bytes';
    const ours = await inContainer(script);
    const bundle = path.join(dir, 'bundle');
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    spec.linux.cgroupsPath = `/runcell/${id}-runc`;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    const runc = await run('runc', ['--root', path.join(dir, 'runc'), 'run', '-b', bundle, id]);
    expect(runc).toMatchObject({ code: 0, stderr: '' });
    const strip = (out: string, hierarchy: string) => out.split('\n').filter((l) => !l.startsWith(`/sys/fs/cgroup/${hierarchy} `));
    expect(strip(ours, 'unified')).toEqual(strip(runc.stdout, 'systemd'));
  });
});
