// bpf(2) for device filters against the real kernel: load, attach to a scratch cgroup2
// directory (on hybrid hosts the /sys/fs/cgroup/unified mount), query, detach; the verifier
// accepts what device-filter.ts emits; the kernel enforces it on a process in that cgroup; and a
// replacement never leaves the cgroup without a program.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cgroup, detectLayout } from '../../src/container/cgroups';
import { containerDeviceRules, deviceFilterProgram, encodeProgram, parseDeviceRules, type DeviceRule } from '../../src/container/device-filter';
import {
  BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE, bpfProgAttach, bpfProgDetach, bpfProgGetFdById, bpfProgLoad, bpfProgQuery,
} from '../../src/sys/bpf';
import { ErrnoError } from '../../src';
import { isRoot, startWorker } from '../helpers/env';
import { lineReader } from '../../src/lines';

const unified = detectLayout().unified;
const skip = !isRoot ? 'needs root (BPF_PROG_LOAD of a cgroup program, cgroup directories)'
  : unified === null ? 'needs a cgroup2 mount' : null;

const program = (rules: DeviceRule[]) => encodeProgram(deviceFilterProgram(parseDeviceRules(rules)));
const load = (rules: DeviceRule[]) => bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, program(rules), 'Apache-2.0');

let cgroupPath: string;
let dir: string;
let dirFd: number;
const fds: number[] = [];
beforeEach(() => {
  if (skip) return;
  cgroupPath = `/runcell-test-bpf-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  dir = path.join(unified!, cgroupPath);
  fs.mkdirSync(dir);
  dirFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
});
afterEach(() => {
  if (skip) return;
  for (const fd of fds.splice(0)) fs.closeSync(fd);
  fs.closeSync(dirFd);
  fs.rmdirSync(dir); // its programs go with it
});
const keep = (fd: number) => (fds.push(fd), fd);
const attached = () => bpfProgQuery(dirFd, BPF_CGROUP_DEVICE, dir).ids;

/** Runs `script` with sh in the scratch cgroup (it moves itself in first). */
function inCgroup(script: string) {
  return spawnSync('sh', ['-c', `echo $$ > ${path.join(dir, 'cgroup.procs')} && ${script}`], { encoding: 'utf8' });
}

describe.skipIf(skip !== null)(`bpf(2) device filters${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('loads, attaches, lists and detaches a program', () => {
    const fd = keep(load([{ allow: true }]));
    expect(attached()).toEqual([]);
    bpfProgAttach(dirFd, fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
    const [id] = attached();
    expect(id).toBeGreaterThan(0);
    expect(bpfProgQuery(dirFd, BPF_CGROUP_DEVICE).attachFlags).toBe(BPF_F_ALLOW_MULTI);
    // The id reopens the same program, which detaches it.
    const again = keep(bpfProgGetFdById(id));
    bpfProgDetach(dirFd, again, BPF_CGROUP_DEVICE, dir);
    expect(attached()).toEqual([]);
  });

  it('has the verifier accept the program of the default spec\'s rules, and of a long list', () => {
    const spec: DeviceRule[] = [{ allow: false, access: 'rwm' }];
    keep(load(containerDeviceRules(spec)));
    keep(load(containerDeviceRules(Array.from({ length: 200 }, (_, i) => ({ allow: i % 2 === 0, type: 'c', major: i, minor: i, access: 'rw' })))));
  });

  it('enforces the rules on a process of the cgroup: /dev/null open, /dev/zero refused with EPERM', () => {
    expect(inCgroup('head -c1 /dev/zero | wc -c').stdout.trim()).toBe('1');
    bpfProgAttach(dirFd, keep(load(containerDeviceRules([{ allow: false }]).filter((r) => !(r.major === 1 && r.minor === 5)))),
      BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
    const denied = inCgroup('head -c1 /dev/zero');
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toMatch(/Operation not permitted/);
    expect(inCgroup('echo x > /dev/null && echo ok').stdout.trim()).toBe('ok');
  });

  it('reports errno, the command and the cgroup: a bad program, an fd that is no cgroup', () => {
    const log = Buffer.alloc(4096);
    // A program whose last instruction is not an exit.
    const bad = encodeProgram([{ code: 0xb4, dst: 0, src: 0, off: 0, imm: 1 }]);
    expect(() => bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, bad, 'Apache-2.0', log)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'bpf_prog_load' }));
    expect(log.toString('utf8', 0, log.indexOf(0))).not.toBe('');
    const notCgroup = keep(fs.openSync('/tmp', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY));
    let caught: unknown;
    try {
      bpfProgAttach(notCgroup, keep(load([{ allow: true }])), BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, '/tmp');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ErrnoError);
    expect(caught).toMatchObject({ syscall: 'bpf_prog_attach', path: '/tmp' });
    expect(() => bpfProgGetFdById(2 ** 32 - 1)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'bpf_prog_get_fd_by_id' }));
  });

  it('replaces a program without a gap: old and new attached, then the new alone', () => {
    const old = keep(load([{ allow: true }]));
    bpfProgAttach(dirFd, old, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
    const [oldId] = attached();
    const next = keep(load([{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }]));
    bpfProgAttach(dirFd, next, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, dir);
    const both = attached();
    expect(both).toHaveLength(2);
    expect(both).toContain(oldId);
    // While both are attached, a device must pass both.
    expect(inCgroup('head -c1 /dev/zero').stderr).toMatch(/Operation not permitted/);
    bpfProgDetach(dirFd, old, BPF_CGROUP_DEVICE, dir);
    expect(attached()).toEqual(both.filter((id) => id !== oldId));
  });

  it('Cgroup.apply replaces the filter on every update, and a watcher never sees the cgroup without one', async () => {
    const cgroup = new Cgroup({ v1: new Map(), unified }, cgroupPath);
    const rules = (minor: number) => ({ devices: [{ allow: false }, { allow: true, type: 'c', major: 1, minor }] });
    cgroup.apply(rules(5));
    const first = cgroup.deviceFilterIds();
    expect(first).toHaveLength(1);
    // Another process queries the cgroup as fast as it can while this one replaces the program.
    const watcher = startWorker('watch-device-filters', [dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    const next = lineReader(watcher.stdout!);
    expect(await next()).toBe('watching');
    for (let i = 0; i < 100; i++) cgroup.apply(rules(i % 2 === 0 ? 3 : 5));
    watcher.stdin!.end();
    const counts = JSON.parse((await next())!) as Record<string, number>;
    expect(counts['0']).toBeUndefined();
    expect(Object.keys(counts).every((n) => n === '1' || n === '2')).toBe(true);
    const last = cgroup.deviceFilterIds();
    expect(last).toHaveLength(1);
    expect(last[0]).not.toBe(first[0]);
    // The last rules (allow 1:5, /dev/zero) are the ones in force.
    expect(inCgroup('head -c1 /dev/zero | wc -c').stdout.trim()).toBe('1');
    expect(inCgroup('head -c1 /dev/urandom').stderr).toMatch(/Operation not permitted/);
  });
});
