// The host's runcell-init is out of a container's reach (the CVE-2019-5736 class): the
// processes of runcell-init run from a read-only or sealed executable (init-binary.ts), and
// the exec helper's process is non-dumpable until its execve. As root, on real containers.
//
// A process is held before its execve deterministically: the image's /etc/passwd is a FIFO,
// which the exec'd process opens to find HOME (its HOME is empty) and blocks on until
// the container's own process, the observer, writes to it.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateFile, type ContainerRecord } from '../../src';
import { initProgram } from '../../src/paths';
import { sealedInit } from '../../src/container/init-binary';
import { CLI, childEnv, runcell, useScratch, waitFor } from '../helpers/env';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers();
const ID = `ib${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

// The container's process: finds the exec'd process (still runcell-init), reports what it can
// reach of its binary, holds a descriptor of it, lets it go on to its execve, then writes
// through that descriptor (no longer stopped by ETXTBSY of that process).
const OBSERVER = `
while :; do
  for p in /proc/[0-9]*; do
    [ $p = /proc/$$ ] && continue # this script's own text names what it looks for
    case "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" in *"runcell-init exec "*) pid=\${p#/proc/}; break 2;; esac
  done
  sleep 0.05
done
if (exec 3</proc/$pid/exe) 2>/dev/null; then reachable=yes; exec 3</proc/$pid/exe; else reachable=no; fi
{
  echo "reachable=$reachable"
  echo "link=$(readlink /proc/$pid/exe)"
} > /out/report
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
while tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q 'runcell-init '; do sleep 0.05; done
if [ $reachable = yes ]; then
  { printf x >> /proc/self/fd/3; } 2>/out/write-error
  echo "write=$?" >> /out/report
  echo "write-error=$(cat /out/write-error)" >> /out/report
fi
echo done >> /out/report
sleep 1000
`;

async function observe(edit: SpecEdit): Promise<{ report: Record<string, string>; record: ContainerRecord }> {
  const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', OBSERVER], (spec) => {
    const all = ['CAP_SYS_PTRACE', ...spec.process.capabilities.bounding];
    for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = all;
    spec.root.readonly = false; // the observer writes its report into /out
    spec.process.env = [...spec.process.env.filter((e: string) => !e.startsWith('HOME=')), 'HOME=/root'];
    edit(spec);
  });
  const rootfs = path.join(bundle, 'rootfs');
  execFileSync('mkfifo', ['-m', '0666', path.join(rootfs, 'etc/passwd')]);
  fs.mkdirSync(path.join(rootfs, 'out'));
  fs.chmodSync(path.join(rootfs, 'out'), 0o777);
  expect(await runcell(['--root', root, 'run', '-d', '-b', bundle, ID])).toMatchObject({ code: 0, stderr: '' });
  const record = new StateFile<ContainerRecord>(root, { containerId: ID, sandboxId: ID }).load();
  // An empty HOME: the exec'd process looks it up in /etc/passwd.
  const victim = spawn(CLI, ['--root', root, 'exec', '--env', 'HOME=', ID, 'true'], { stdio: 'ignore', env: childEnv() });
  const exited = new Promise<number | null>((resolve) => victim.once('exit', resolve));
  const reportFile = path.join(rootfs, 'out/report');
  await waitFor(() => fs.existsSync(reportFile) && fs.readFileSync(reportFile, 'utf8').includes('done\n'), 'the observer\'s report');
  expect(await exited).toBe(0);
  const report = Object.fromEntries(fs.readFileSync(reportFile, 'utf8').trim().split('\n').map((line) => {
    const eq = line.indexOf('=');
    return eq < 0 ? [line, ''] : [line.slice(0, eq), line.slice(eq + 1)];
  }));
  return { report, record };
}

describe.skipIf(skip !== null)(`the runtime's binary${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('is not the host\'s file in a container with CAP_SYS_PTRACE: a write through /proc/PID/exe fails, the host file is unchanged', async () => {
    const host = fs.statSync(initProgram());
    const { report, record } = await observe(() => {});
    expect(report.reachable).toBe('yes'); // CAP_SYS_PTRACE of the host's user namespace: dumpability does not stop it
    expect(report.link).not.toBe(initProgram());
    expect(report.write).toBe('1');
    const after = fs.statSync(initProgram());
    expect([after.size, after.mtimeMs, after.ino]).toEqual([host.size, host.mtimeMs, host.ino]);
    // The write met ETXTBSY first (this container's gofer and init run the same file); what
    // stops it without them: the file is reached through a read-only mount (as root), or is a
    // sealed memfd. Asked of the init's /proc/PID/exe, which the gofer and the init share with
    // every exec helper of this runcell.
    const exe = `/proc/${record.init!.pid}/exe`;
    if (fs.readlinkSync(exe).startsWith('/memfd:')) {
      expect(() => fs.appendFileSync(exe, 'x')).toThrow(/EPERM|ETXTBSY/);
    } else {
      const flags = execFileSync('python3', ['-c', 'import os, sys; print(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY)', exe]).toString();
      expect(flags.trim()).toBe(String(1)); // ST_RDONLY
    }
  });

  it('is not reachable at all from a user namespace while the exec\'d process is runcell-init: it is non-dumpable', async () => {
    fs.chmodSync(dir, 0o755); // the mapped root (host uid 200000) must reach the bundle
    const { report } = await observe((spec) => {
      spec.linux.namespaces.push({ type: 'user' });
      spec.mounts = spec.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/sys'));
      spec.linux.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    });
    // Root of the container's user namespace, with CAP_SYS_PTRACE there, reaches a dumpable
    // process that joined it; a non-dumpable one only with CAP_SYS_PTRACE of the host's.
    expect(report).toMatchObject({ reachable: 'no', link: '' });
  });

  it('as a sealed memfd copy (rootless): executable, and no write reaches it', async () => {
    const memfd = sealedInit('memfd');
    expect(memfd.file).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    expect(fs.readlinkSync(memfd.file)).toBe('/memfd:runcell-init (deleted)');
    expect(fs.statSync(memfd.file).size).toBe(fs.statSync(initProgram()).size);
    expect(() => fs.appendFileSync(memfd.file, 'x')).toThrow(/EPERM/);
    const fd = fs.openSync(memfd.file, 'r+');
    try {
      expect(() => fs.writeSync(fd, 'x', 0)).toThrow(/EPERM/);
    } finally {
      fs.closeSync(fd);
    }
    // It runs (and names itself runcell-init): its usage line, exit status 2.
    const out = execFileSync('sh', ['-c', `"${memfd.file}" 2>&1; echo status=$?`]).toString();
    expect(out).toContain('usage: runcell-init gofer|exec');
    expect(out).toContain('status=2');
  });
});
