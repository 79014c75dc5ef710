// The systemd cgroup driver on a host without systemd (this one): --systemd-cgroup fails clearly
// and leaves nothing; a "slice:prefix:name" path without it names the flag; the D-Bus client
// reports a bus without systemd, and no bus; the gofer waits for the cgroup manager. The driver
// itself, with systemd, is tested in the VM (test/vm/systemd.test.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildLaunchPlan, encodePlan, isProcessAlive, processStartTime, reapChild, validateSpec } from '../../src';
import { detectLayout } from '../../src/container/cgroups';
import { Systemd, systemdUnitOf } from '../../src/container/systemd';
import { lineReader } from '../../src/lines';
import { initProgram } from '../../src/paths';
import { commandExists, runcell, waitFor, useScratchContainer } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const hasSystemd = fs.existsSync('/run/systemd/system');
const skip = whyNoContainers();
let dir: string;
let root: string;
let id: string;
useScratchContainer('sd', (d, r, i) => ([dir, root, id] = [d, r, i])); // ids unique: cgroups are host-wide

// Every directory the container's cgroup could have on this host, cgroupfs or systemd.
function cgroupDirectories(cgroupPath: string): string[] {
  const layout = detectLayout();
  return [...layout.v1.values(), ...(layout.unified ? [layout.unified] : [])].map((mount) => path.join(mount, cgroupPath));
}

describe.skipIf(skip !== null || hasSystemd)(`--systemd-cgroup without systemd${skip ? ` (skipped: ${skip})` : hasSystemd ? ' (skipped: this host runs systemd)' : ''}`, () => {
  it('run and create fail naming the missing systemd, exit 1, and leave no state, process or cgroup', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sh', '-c', 'echo ran'], (spec) => {
      spec.linux.cgroupsPath = `system.slice:runcell:${id}`;
    });
    for (const command of ['run', 'create']) {
      const result = await runcell(['--root', root, '--systemd-cgroup', command, '-b', bundle, id]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('runcell: --systemd-cgroup: this host does not run systemd (/run/systemd/system does not exist): ' +
        'leave the flag out to use cgroupfs\n');
      expect(fs.readdirSync(root)).toEqual([]);
      for (const d of [...cgroupDirectories(`/system.slice/runcell-${id}.scope`), ...cgroupDirectories(`/runcell/${id}`)]) {
        expect(fs.existsSync(d), d).toBe(false);
      }
    }
    // Nothing of ours runs: no init or gofer names this bundle's container.
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(id);
    // The default path too (system.slice:runcell:<id>), and a bad path is refused as a spec error first.
    const plain = makeBundle(path.join(dir, 'plain'), ['true']);
    expect((await runcell(['--root', root, '--systemd-cgroup', 'run', '-b', plain, id])).stderr).toMatch(/does not run systemd/);
    const bad = makeBundle(path.join(dir, 'bad'), ['true'], (spec) => (spec.linux.cgroupsPath = '/runcell/x'));
    expect((await runcell(['--root', root, '--systemd-cgroup', 'run', '-b', bad, id])).stderr).toBe('runcell: config.json: ' +
      'config.linux.cgroupsPath: "/runcell/x" is not of the form "slice:prefix:name" that --systemd-cgroup takes\n');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('the flag is accepted by every command (podman passes it to all), and changes nothing for cgroupfs containers', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000']);
    expect(await runcell(['--root', root, 'run', '-d', '-b', bundle, id])).toMatchObject({ code: 0 });
    for (const args of [['state', id], ['ps', id], ['list', '-q'], ['update', '-r', '-', id]]) {
      const result = await runcell(['--root', root, '--systemd-cgroup', ...args], { input: '{"pids":{"limit":90}}' });
      expect(result, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
    }
    expect(await runcell(['--root', root, '--systemd-cgroup', 'delete', '--force', id])).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

describe.skipIf(skip !== null)(`cgroupfs${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a "slice:prefix:name" path without the flag is refused naming the flag', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => (spec.linux.cgroupsPath = `machine.slice:libpod:${id}`));
    const result = await runcell(['--root', root, 'run', '-b', bundle, id]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`runcell: config.json: config.linux.cgroupsPath: "machine.slice:libpod:${id}" is a systemd ` +
      '"slice:prefix:name" path, which needs --systemd-cgroup\n');
    expect(fs.readdirSync(root)).toEqual([]);
  });
});

// A real D-Bus daemon, private to the test, with no systemd on it: what the client says when
// systemd is not on the bus, and when there is no bus.
describe.skipIf(!commandExists('dbus-daemon'))(`the D-Bus client${commandExists('dbus-daemon') ? '' : ' (skipped: needs dbus-daemon)'}`, () => {
  let daemon: ChildProcess | undefined;
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  afterEach(() => {
    daemon?.kill('SIGKILL');
    daemon = undefined;
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  });

  it('names the unit and D-Bus\'s own error when systemd is not on the bus', async () => {
    const socket = path.join(dir, 'bus');
    const config = path.join(dir, 'bus.conf');
    fs.writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>`);
    daemon = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
    await waitFor(() => fs.existsSync(socket), 'the bus socket');
    process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${socket}`;
    const systemd = await Systemd.connect();
    try {
      expect(systemd.address).toBe(`unix:path=${socket}`);
      const unit = systemdUnitOf(undefined, id);
      await expect(systemd.startTransientUnit(unit.name, [['Description', 's', 'x'], ['PIDs', 'au', [process.pid]]])).rejects.toThrow(
        new RegExp(`^systemd refused to start unit "runcell-${id}\\.scope": .*\\(org\\.freedesktop\\.DBus\\.Error\\.ServiceUnknown\\)$`));
      await expect(systemd.stopUnit(unit.name)).rejects.toThrow(/^systemd refused to stop unit .*ServiceUnknown/);
    } finally {
      systemd.close();
    }
  });

  it('names the bus address when there is no bus', async () => {
    process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${path.join(dir, 'none')}`;
    await expect(Systemd.connect()).rejects.toThrow(`--systemd-cgroup: cannot reach systemd on the D-Bus system bus (unix:path=${path.join(dir, 'none')}): ` +
      `connecting to the system bus: connect ENOENT ${path.join(dir, 'none')}`);
  });
});

// The gofer's half of the driver: with `g-cgroup-manager` it reports the init's pid before the
// init runs anything, and lets it run only on "cgroup"; the CLI gone, the init goes too.
describe.skipIf(skip !== null)(`the gofer waits for the cgroup manager${skip ? ` (skipped: ${skip})` : ''}`, () => {
  function startGofer(): { gofer: ChildProcess; control: net.Socket; next: () => Promise<string | undefined> } {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true']);
    fs.mkdirSync(root);
    const file = (ext: string) => path.join(root, `${id}.${ext}`);
    const spec = validateSpec(JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')));
    // No cgroup here (the handshake is what is tested), so nothing for a cgroup mount to show.
    spec.mounts = spec.mounts?.filter((m) => m.type !== 'cgroup');
    const plan = buildLaunchPlan(spec, {
      bundle, extraFds: 0, cgroupManager: true,
      files: { exit: file('exit'), exitTmp: file('exittmp'), gate: file('gate'), ready: file('ready') },
    });
    const gofer = spawn(initProgram(), ['gofer', '3', '4'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], env: {} });
    const control = gofer.stdio[3] as net.Socket;
    control.write(encodePlan(plan));
    return { gofer, control, next: lineReader(gofer.stdio[4] as net.Socket) };
  }
  const mountNamespace = (pid: number) => fs.readlinkSync(`/proc/${pid}/ns/mnt`);

  it('reports the cloned init, which has run nothing yet, and goes on on "cgroup"', async () => {
    const { gofer, control, next } = startGofer();
    const cloned = /^cgroup (\d+)$/.exec((await next()) ?? '');
    expect(cloned).not.toBeNull();
    const init = Number(cloned![1]);
    // Still in our mount namespace: the plan (its first steps unshare it) has not begun.
    expect(mountNamespace(init)).toBe(mountNamespace(process.pid));
    control.write('cgroup\n');
    expect(await next()).toBe(`ready ${init}`);
    expect(mountNamespace(init)).not.toBe(mountNamespace(process.pid));
    // No commit: the gofer kills the uncommitted init, and both are gone.
    const startTime = processStartTime(init);
    control.end();
    expect(await reapChild(init)).toBe(137);
    expect(isProcessAlive(init, startTime)).toBe(false);
    await new Promise((resolve) => (gofer.exitCode !== null ? resolve(null) : gofer.once('exit', resolve)));
  });

  it('kills the waiting init when the CLI goes before answering', async () => {
    const { gofer, control, next } = startGofer();
    const init = Number(/^cgroup (\d+)$/.exec((await next()) ?? '')![1]);
    control.end();
    expect(await reapChild(init)).toBe(137);
    expect(await next()).toBeUndefined();
    const code = await new Promise((resolve) => (gofer.exitCode !== null ? resolve(gofer.exitCode) : gofer.once('exit', resolve)));
    expect(code).toBe(1);
  });
});
