// runc's command-line flags that clients and people use, each against runc itself where runc
// defines the result: the same bundle under both, the same flags, the same outcome (what the
// process sees, the files of its cgroup). As root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectLayout, isPureV2 } from '../../src/container/cgroups';
import { CLI, commandExists, run, runcell, useScratch, waitFor, type RunResult } from '../helpers/env';
import { makeBundle, whyNoContainers, type SpecEdit } from '../helpers/bundle';

const skip = whyNoContainers() ?? (commandExists('runc') ? null : 'needs runc, the reference runtime');
const ID = `cf${process.pid}`;
let dir: string;
let root: string;
useScratch((d, r) => {
  dir = d;
  root = r;
});

const layout = detectLayout();
const pureV2 = isPureV2(layout);
const rc = (...args: string[]) => runcell(['--root', root, ...args]);
const runcRoot = () => path.join(dir, 'runc-root');
const runc = (...args: string[]) => run('runc', ['--root', runcRoot(), ...args]);
const RUNC_CGROUP = () => `/runcell-flags-runc/${ID}`;

/** The same sleeping container under runcell and under runc (its own cgroup); `body` runs with both. */
async function withBoth(edit: SpecEdit, body: () => Promise<void>): Promise<void> {
  const ours = makeBundle(path.join(dir, 'ours'), ['sleep', '1000'], edit);
  const theirs = makeBundle(path.join(dir, 'theirs'), ['sleep', '1000'], (spec) => {
    edit(spec);
    spec.linux.cgroupsPath = RUNC_CGROUP();
  });
  expect(await rc('run', '-d', '-b', ours, ID)).toMatchObject({ code: 0, stderr: '' });
  try {
    const started = await runc('run', '-d', '-b', theirs, ID);
    expect(started).toMatchObject({ code: 0, stderr: '' });
    await body();
  } finally {
    await runc('delete', '--force', ID);
    // runc leaves the parent it made; nothing else of the host's is kept.
    for (const mountPoint of fs.readdirSync('/sys/fs/cgroup').map((d) => path.join('/sys/fs/cgroup', d))) {
      try {
        fs.rmdirSync(path.join(mountPoint, path.dirname(RUNC_CGROUP())));
      } catch {
        // not there, or another run's container still in it
      }
    }
  }
}

/** Runs the same arguments under both; their results, stdout and exit code compared by the caller. */
async function both(...args: string[]): Promise<[RunResult, RunResult]> {
  return [await rc(...args), await runc(...args)];
}

describe.skipIf(skip !== null)(`runc's flags, against runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('update: every limit flag sets what runc sets, in runc\'s value formats', async () => {
    // [v1 controller, v1 file, v2 file]
    const files: Array<[string, string, string]> = [
      ['memory', 'memory.limit_in_bytes', 'memory.max'],
      ['memory', 'memory.memsw.limit_in_bytes', 'memory.swap.max'],
      ['memory', 'memory.soft_limit_in_bytes', 'memory.low'],
      ['cpu', 'cpu.shares', 'cpu.weight'],
      ['cpu', 'cpu.cfs_quota_us', 'cpu.max'],
      ['cpu', 'cpu.cfs_period_us', 'cpu.max'],
      ['cpuset', 'cpuset.cpus', 'cpuset.cpus'],
      ['cpuset', 'cpuset.mems', 'cpuset.mems'],
      ['pids', 'pids.max', 'pids.max'],
    ];
    const read = (cgroupPath: string) => Object.fromEntries(files.map(([controller, v1, v2]) => {
      const file = pureV2 ? path.join(layout.unified!, cgroupPath, v2) : path.join(layout.v1.get(controller)!, cgroupPath, v1);
      return [pureV2 ? v2 : v1, fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : null];
    }));
    const cpus = fs.readFileSync(pureV2 ? path.join(layout.unified!, 'cpuset.cpus.effective') : path.join(layout.v1.get('cpuset')!, 'cpuset.cpus'), 'utf8').trim();
    const firstCpu = cpus.split(/[,-]/)[0];
    await withBoth((spec) => {
      spec.linux.resources = { memory: { limit: 64 * 1024 * 1024, swap: 128 * 1024 * 1024 }, pids: { limit: 50 } };
    }, async () => {
      expect(read(`/runcell/${ID}`)).toEqual(read(RUNC_CGROUP()));
      for (const flags of [
        ['--memory', '128m', '--memory-swap', '256M', '--memory-reservation', '64MiB'],
        ['--memory', '100000000'],
        ['--memory', '-1'], // and swap unlimited with it, as runc does
        ['--memory', '1.5g', '--memory-swap', '-1'],
        ['--cpu-share', '512', '--cpu-quota', '50000', '--cpu-period', '200000'],
        ['--cpu-quota', '-1'],
        ['--cpu-period', '100000'],
        [`--cpuset-cpus=${firstCpu}`, '--cpuset-mems', '0'],
        ['--pids-limit', '20'],
        ['--pids-limit', '-1'],
        ['--pids-limit', '0'], // runc's default: no change
      ]) {
        const [ours, theirs] = await both('update', ...flags, ID);
        expect(ours.stderr, flags.join(' ')).toBe('');
        expect([ours.code, theirs.code], `${flags.join(' ')}: ${theirs.stderr}`).toEqual([0, 0]);
        expect(read(`/runcell/${ID}`), flags.join(' ')).toEqual(read(RUNC_CGROUP()));
      }
      // Values runc refuses, refused by name; nothing changes.
      const before = read(`/runcell/${ID}`);
      for (const flags of [['--memory', '12x'], ['--cpu-share', '-5'], ['--cpu-quota', 'lots'], ['--pids-limit', 'ten']]) {
        const [ours, theirs] = await both('update', ...flags, ID);
        expect(theirs.code, flags.join(' ')).not.toBe(0);
        expect(ours.code, flags.join(' ')).toBe(1);
        expect(ours.stderr, flags.join(' ')).toContain(flags[0]);
      }
      expect(read(`/runcell/${ID}`)).toEqual(before);
    });
  });

  it('update: --resources with a flag beside it is refused (runc ignores the flag without a word); neither is no update', async () => {
    const bundle = makeBundle(path.join(dir, 'ours'), ['sleep', '1000']);
    expect(await rc('run', '-d', '-b', bundle, ID)).toMatchObject({ code: 0 });
    const file = path.join(dir, 'r.json');
    fs.writeFileSync(file, JSON.stringify({ pids: { limit: 30 } }));
    expect(await rc('update', '-r', file, '--pids-limit', '40', ID)).toMatchObject({
      code: 1, stderr: 'runcell: update: --resources cannot be combined with the flags of single limits\n',
    });
    expect((await rc('update', ID)).stderr).toContain('give --resources FILE|- or a limit to change');
    expect(await rc('update', '--pids-limit', '40', ID)).toMatchObject({ code: 0, stderr: '' });
    const pidsMax = path.join(pureV2 ? layout.unified! : layout.v1.get('pids')!, `/runcell/${ID}`, 'pids.max');
    expect(fs.readFileSync(pidsMax, 'utf8').trim()).toBe('40');
    // runc's spelling is --cpu-share; --cpu-shares (docker's) is taken too.
    expect(await rc('update', '--cpu-shares', '256', ID)).toMatchObject({ code: 0, stderr: '' });
  });

  it('exec --preserve-fds N: descriptors 3..3+N-1 reach the process, as with runc', async () => {
    await withBoth(() => {}, async () => {
      const out = [path.join(dir, 'fd3-ours'), path.join(dir, 'fd3-runc')];
      const results: RunResult[] = [];
      for (const [i, [program, stateRoot]] of [[CLI, root], ['runc', runcRoot()]].entries()) {
        const fd = fs.openSync(out[i], 'w');
        try {
          results.push(await run(program, ['--root', stateRoot, 'exec', '--preserve-fds', '1', ID, 'sh', '-c', 'echo through >&3; ls /proc/self/fd'],
            { stdio: ['ignore', 'pipe', 'pipe', fd] }));
        } finally {
          fs.closeSync(fd);
        }
      }
      expect(results[0]).toMatchObject({ code: 0, stderr: '' });
      expect(results[0].stdout).toBe(results[1].stdout);
      expect(fs.readFileSync(out[0], 'utf8')).toBe('through\n');
      expect(fs.readFileSync(out[1], 'utf8')).toBe('through\n');
      // Without the flag it is not passed on (3 is then ls's own directory).
      const [ours, theirs] = await both('exec', ID, 'ls', '/proc/self/fd');
      expect(ours.stdout).toBe(theirs.stdout);
      expect(ours.stdout.split('\n').length).toBe(results[0].stdout.split('\n').length - 1);
    });
  });

  it('exec -g/--additional-gids adds supplementary groups, as with runc', async () => {
    await withBoth(() => {}, async () => {
      for (const flags of [['-g', '10', '-g', '20'], ['--additional-gids', '20'], ['-u', '1000:1000', '-g', '5'], ['--additional-gids', '-3'], ['-g', 'wheel']]) {
        const [ours, theirs] = await both('exec', ...flags, ID, 'id', '-G');
        expect(ours.code === 0, flags.join(' ')).toBe(theirs.code === 0);
        if (theirs.code === 0) expect(ours.stdout, flags.join(' ')).toBe(theirs.stdout);
        else expect(ours.stderr, flags.join(' ')).toContain('--additional-gids');
      }
      expect((await rc('exec', '-g', '10', '-g', '20', ID, 'id', '-G')).stdout).toBe('0 10 20\n');
    });
  });

  it('exec in a paused container is refused, and with --ignore-paused runs once resumed, as with runc', async () => {
    await withBoth(() => {}, async () => {
      for (const command of [rc, runc]) expect((await command('pause', ID)).code).toBe(0);
      const [ours, theirs] = await both('exec', ID, 'echo', 'ok');
      expect([ours.code, theirs.code]).toEqual([255, 255]);
      expect(ours.stderr).toContain('paused');
      expect(ours.stderr).toContain('--ignore-paused');
      // The process starts frozen in the container's cgroup and runs on resume.
      // (The freezer's hierarchy: the helper stops the moment it joins that one.)
      const procs = path.join(pureV2 ? layout.unified! : layout.v1.get('freezer')!, `/runcell/${ID}`, 'cgroup.procs');
      const count = () => fs.readFileSync(procs, 'utf8').split('\n').filter(Boolean).length;
      const before = count();
      const waiting = rc('exec', '--ignore-paused', ID, 'echo', 'ok');
      await waitFor(() => count() > before, 'the exec helper to join the frozen cgroup');
      expect((await rc('resume', ID)).code).toBe(0);
      expect(await waiting).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
    });
  });

  it.skipIf(pureV2)('exec --cgroup: a sub-cgroup of the container\'s, per controller or for all (v1), never outside, as with runc', async () => {
    await withBoth(() => {}, async () => {
      // Made from the host: the container's own cgroup view is read-only.
      for (const base of [`/runcell/${ID}`, RUNC_CGROUP()]) {
        // (runc joins name=systemd's hierarchy too, where runcell makes no cgroup.)
        const systemd = base === RUNC_CGROUP() && fs.existsSync('/sys/fs/cgroup/systemd/cgroup.procs') ? ['/sys/fs/cgroup/systemd'] : [];
        for (const mountPoint of new Set([...layout.v1.values(), ...(layout.unified ? [layout.unified] : []), ...systemd])) {
          const sub = path.join(mountPoint, base, 'sub');
          fs.mkdirSync(sub, { recursive: true });
          // A new v1 cpuset has no cpus and mems: a process cannot join it (ENOSPC) until given some.
          for (const file of ['cpuset.cpus', 'cpuset.mems']) {
            if (fs.existsSync(path.join(sub, file))) fs.writeFileSync(path.join(sub, file), fs.readFileSync(path.join(sub, '..', file)));
          }
        }
      }
      const relative = (cgroupFile: string, base: string) => cgroupFile.split('\n').filter(Boolean)
        .map((line) => line.replace(base, '<ct>')).filter((line) => !line.includes('name=systemd')).sort().join('\n');
      for (const flags of [['--cgroup', 'sub'], ['--cgroup', 'memory:sub'], ['--cgroup', 'memory:sub', '--cgroup', 'pids,freezer:sub'], ['--cgroup', '/']]) {
        const ours = await rc('exec', ...flags, ID, 'cat', '/proc/self/cgroup');
        const theirs = await runc('exec', ...flags, ID, 'cat', '/proc/self/cgroup');
        expect(ours, flags.join(' ')).toMatchObject({ code: 0, stderr: '' });
        expect(theirs.code, theirs.stderr).toBe(0);
        // The container has a cgroup namespace: paths are relative to its cgroup, under both.
        const ourLines = relative(ours.stdout, `/runcell/${ID}`).split('\n').filter((l) => !l.startsWith('0::'));
        const theirLines = relative(theirs.stdout, RUNC_CGROUP()).split('\n').filter((l) => !l.startsWith('0::'));
        expect(ourLines, flags.join(' ')).toEqual(theirLines);
      }
      for (const [flags, message] of [
        [['--cgroup', '..'], '.. is not a sub cgroup path'],
        [['--cgroup', 'nonexistent'], 'ENOENT'],
        [['--cgroup', 'cpu:nonexistent'], 'ENOENT'],
        [['--cgroup', 'whaaat:/'], 'unknown controller'],
        [['--cgroup', 'a', '--cgroup', 'b'], 'missing <controller>: prefix'],
      ] as const) {
        const [ours, theirs] = await both('exec', ...flags, ID, 'true');
        expect(theirs.code, flags.join(' ')).not.toBe(0);
        expect(ours.code, flags.join(' ')).toBe(255);
        expect(ours.stderr, flags.join(' ')).toContain(message);
      }
      // A process left in a sub-cgroup is the container's: ps lists it, delete --force ends it
      // and removes the sub-cgroups with the container's (runc: GetAllPids, RemovePath).
      const pidFile = path.join(dir, 'sub.pid');
      expect(await rc('exec', '-d', '--pid-file', pidFile, '--cgroup', 'memory:sub', ID, 'sleep', '1000')).toMatchObject({ code: 0, stderr: '' });
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      expect(fs.readFileSync(path.join(layout.v1.get('memory')!, `/runcell/${ID}/sub/cgroup.procs`), 'utf8')).toContain(String(pid));
      expect(JSON.parse((await rc('ps', '-f', 'json', ID)).stdout)).toContain(pid);
      expect(await rc('delete', '--force', ID)).toMatchObject({ code: 0, stderr: '' });
      for (const mountPoint of new Set([...layout.v1.values(), ...(layout.unified ? [layout.unified] : [])])) {
        expect(fs.existsSync(path.join(mountPoint, `/runcell/${ID}`)), mountPoint).toBe(false);
      }
    });
  });
});

describe.skipIf(skip !== null)(`run's flags, against runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('run --keep leaves the container stopped with its status until delete; without it, it is gone', async () => {
    const bundle = makeBundle(path.join(dir, 'b'), ['sh', '-c', 'exit 3']);
    const [ours, theirs] = await both('run', '--keep', '--no-subreaper', '-b', bundle, ID);
    expect([ours.code, theirs.code]).toEqual([3, 3]);
    const stateOf = async (command: typeof rc) => {
      const state = await command('state', ID);
      expect(state.code, state.stderr).toBe(0);
      const { status, pid, id } = JSON.parse(state.stdout);
      return { status, pid, id };
    };
    expect(await stateOf(rc)).toEqual(await stateOf(runc));
    expect(await stateOf(rc)).toEqual({ status: 'stopped', pid: 0, id: ID });
    expect(await rc('wait', ID)).toMatchObject({ code: 0, stdout: `{"id":"${ID}","exitStatus":3}\n` });
    expect((await rc('list', '-q')).stdout).toBe(`${ID}\n`);
    for (const command of [rc, runc]) expect((await command('delete', ID)).code).toBe(0);
    expect((await rc('list', '-q')).stdout).toBe('');

    const [again, theirsAgain] = await both('run', '-b', bundle, ID);
    expect([again.code, theirsAgain.code]).toEqual([3, 3]);
    const [gone, goneTheirs] = await both('state', ID);
    expect([gone.code === 0, goneTheirs.code === 0]).toEqual([false, false]);
  });
});

const noScript = skip ?? (commandExists('script') ? null : 'needs script(1) for a terminal of the caller\'s (util-linux)');
describe.skipIf(noScript !== null)(`a terminal in the foreground, against runc${noScript ? ` (skipped: ${noScript})` : ''}`, () => {
  // The caller's terminal: script(1)'s. Its size is set first; its settings are printed before
  // and after, and must come back as they were.
  const inTerminal = async (command: string) => {
    const result = await run('script', ['-qec', `stty rows 33 cols 101; stty -g; ${command}; echo "rc=$?"; stty -g`, '/dev/null']);
    expect(result.code, result.stderr).toBe(0);
    // runc types a NUL into the container's terminal, which its echo shows as ^@ wherever it
    // lands in the output.
    const [before, ...lines] = result.stdout.replaceAll('^@', '').split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.at(-2)).toBe(before);
    return lines.slice(0, -2).join('\n');
  };
  const seen = 'tty; [ -t 0 ] && echo stdin is a terminal; busybox stty size; exit 3';
  const expected = '/dev/pts/0\nstdin is a terminal\n33 101\nrc=3';
  // runc sizes the terminal, and makes ours raw, while the process may already run: under load
  // it sees no size yet (busybox's stty then fails), and its first lines come out before ours
  // is raw (\r\r\n). runcell does both before the process starts, or before any output is
  // copied: its own output must be exact.
  const sameAsRunc = (ours: string, theirs: string) => {
    const raced = (text: string) => text.split('\n').map((line) => line.replace(/\r$/, ''))
      .map((line, i) => (i === 2 && line === 'stty: standard input' ? '33 101' : line)).join('\n');
    expect(ours).toBe(expected);
    expect(raced(theirs)).toBe(ours);
  };

  it('run of a terminal process: a terminal of the container\'s own, of the caller\'s size, its output and status through it', async () => {
    const bundle = makeBundle(path.join(dir, 'tty'), ['sh', '-c', seen], (spec) => (spec.process.terminal = true));
    const ours = await inTerminal(`${CLI} --root ${root} run -b ${bundle} ${ID}`);
    const theirs = await inTerminal(`runc --root ${runcRoot()} run -b ${bundle} ${ID}`);
    sameAsRunc(ours, theirs);
    // No terminal at all on our side (runc refuses: it opens /dev/tty): the process still gets
    // its own, and its output comes through it (\r\n: the container's terminal's).
    // (Of no size: busybox's stty then fails.)
    const alone = await rc('run', '-b', bundle, ID);
    expect(alone.code).toBe(3);
    expect(alone.stdout).toMatch(/^\/dev\/pts\/0\r\nstdin is a terminal\r\n/);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('a resize of the caller\'s terminal reaches the container\'s', async () => {
    // The process waits for its terminal to change size; the caller's is resized (back and
    // forth, should one change come before the CLI listens) until the process is gone.
    const bundle = makeBundle(path.join(dir, 'resize'), ['sh', '-c',
      'first=$(busybox stty size); while [ "$(busybox stty size)" = "$first" ]; do sleep 0.05; done; echo "now $(busybox stty size)"'],
    (spec) => (spec.process.terminal = true));
    const result = await run('script', ['-qec', `stty rows 20 cols 80; ${CLI} --root ${root} run -b ${bundle} ${ID} & pid=$!; ` +
      'while kill -0 $pid 2>/dev/null; do stty rows 40 cols 120; sleep 0.2; stty rows 20 cols 80; sleep 0.2; done; wait $pid; echo "rc=$?"', '/dev/null']);
    // (Which size it started with depends on when the CLI read ours: either way, it changed.)
    expect(result.stdout).toMatch(/now (40 120|20 80)\r+\n(.*\n)*rc=0/);
  });

  it('exec -t in the foreground: the same, in a running container', async () => {
    await withBoth(() => {}, async () => {
      const ours = await inTerminal(`${CLI} --root ${root} exec -t ${ID} sh -c '${seen}'`);
      const theirs = await inTerminal(`runc --root ${runcRoot()} exec -t ${ID} sh -c '${seen}'`);
      sameAsRunc(ours, theirs);
    });
  });
});

describe.skipIf(skip !== null || !commandExists('ps'))(`ps with ps(1)'s arguments, against runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs ps with the arguments after the id (default -ef) and keeps its header and the container\'s lines', async () => {
    await withBoth((spec) => (spec.process.args = ['sh', '-c', 'sleep 1000 & sleep 1000 & wait']), async () => {
      // The columns that do not depend on pids or times; runcell's container has its init too
      // (pid 1 of its namespace, by design: see design.md), which runc's has not.
      const commands = (out: string, column: string) => {
        const [header, ...lines] = out.trim().split('\n');
        const index = header.trim().split(/\s+/).indexOf(column);
        return { header, values: lines.map((l) => l.trim().split(/\s+/).slice(index).join(' ')).filter((c) => !c.includes('runcell-init')).sort() };
      };
      for (const [args, column] of [[[], 'CMD'], [['-ef'], 'CMD'], [['aux'], 'COMMAND'], [['-o', 'pid,comm'], 'COMMAND'], [['--', '-o', 'pid,user,args'], 'COMMAND']] as const) {
        const [ours, theirs] = await both('ps', ID, ...args);
        expect(ours.code, `${args.join(' ')}: ${ours.stderr}`).toBe(theirs.code);
        if (theirs.code !== 0) {
          expect(ours.stderr).toContain('exit status 1'); // ps refused its arguments under both
          continue;
        }
        expect(commands(ours.stdout, column)).toEqual(commands(theirs.stdout, column));
        expect(commands(ours.stdout, column).values).toHaveLength(3);
      }
      // Every pid in the table is one of the container's (the json list).
      const pids = JSON.parse((await rc('ps', '--format', 'json', ID)).stdout) as number[];
      const table = (await rc('ps', ID, '-o', 'pid')).stdout.trim().split('\n').slice(1).map(Number);
      expect(table.sort()).toEqual([...pids].sort());
      expect((await rc('ps', ID, '-o', 'comm')).stderr).toContain('no PID column');
    });
  });
});

describe.skipIf(skip !== null)(`events --stats: cpuset and hugetlb, against runc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('reports the cpuset runc reports for the same spec, and a hugetlb entry per huge page size of the host', async () => {
    const cpus = fs.readFileSync(pureV2 ? path.join(layout.unified!, 'cpuset.cpus.effective') : path.join(layout.v1.get('cpuset')!, 'cpuset.cpus'), 'utf8').trim();
    await withBoth((spec) => (spec.linux.resources = { cpu: { cpus: cpus.split(/[,-]/)[0], mems: '0' } }), async () => {
      const [ours, theirs] = await both('events', '--stats', ID);
      expect([ours.code, theirs.code]).toEqual([0, 0]);
      const [o, t] = [JSON.parse(ours.stdout).data, JSON.parse(theirs.stdout).data];
      // runc 1.1 reads no cpuset file on cgroup v2 (the VM's 1.1.5 reports only its zero
      // defaults, without cpus and mems); runcell reports the effective lists there too.
      const { cpus: ourCpus, mems: ourMems, ...ourRest } = o.cpuset;
      if (pureV2) {
        expect(t.cpuset.cpus).toBeUndefined();
        expect(ourRest).toEqual(t.cpuset);
      } else {
        expect(o.cpuset).toEqual(t.cpuset);
      }
      expect(ourCpus).toEqual([Number(cpus.split(/[,-]/)[0])]);
      expect(ourMems).toEqual([0]);
      // runc 1.1 reads hugetlb from v1's hierarchy only, so on a hybrid host without one it
      // reports {}; runcell reads cgroup2's files there, where its hugepage limits go.
      const sizes = fs.existsSync('/sys/kernel/mm/hugepages') ? fs.readdirSync('/sys/kernel/mm/hugepages').map((d) => {
        const kb = Number(/hugepages-(\d+)kB/.exec(d)![1]);
        return kb >= 1024 * 1024 ? `${kb / 1024 / 1024}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`;
      }).sort() : [];
      const hugetlbHere = layout.v1.has('hugetlb') || (layout.unified !== null && fs.readFileSync(path.join(layout.unified, 'cgroup.controllers'), 'utf8').includes('hugetlb'));
      expect(Object.keys(o.hugetlb).sort()).toEqual(hugetlbHere ? sizes : []);
      for (const entry of Object.values(o.hugetlb) as Array<Record<string, unknown>>) expect(entry).toHaveProperty('failcnt');
      if (layout.v1.has('hugetlb') || pureV2) expect(Object.keys(o.hugetlb).sort()).toEqual(Object.keys(t.hugetlb).sort());
    });
  });
});

describe.skipIf(skip !== null || pureV2)(`kernel memory (cgroup v1)${skip ? ` (skipped: ${skip})` : pureV2 ? ' (skipped: cgroup v1 only)' : ''}`, () => {
  it('update --kernel-memory and memory.kernel at create: applied, or refused by name where the kernel ignores the limit (runc 1.1 ignores it)', async () => {
    const kmem = () => fs.readFileSync(path.join(layout.v1.get('memory')!, `/runcell/${ID}`, 'memory.kmem.limit_in_bytes'), 'utf8').trim();
    const bundle = makeBundle(path.join(dir, 'b'), ['sleep', '1000']);
    expect(await rc('run', '-d', '-b', bundle, ID)).toMatchObject({ code: 0, stderr: '' });
    const before = kmem();
    const update = await rc('update', '--kernel-memory', '64m', ID);
    if (update.code === 0) {
      expect(kmem()).toBe(String(64 * 1024 * 1024));
      return;
    }
    // This kernel keeps the file and ignores writes to it: refused, and said why.
    expect(update).toMatchObject({
      code: 1, stderr: 'runcell: linux.resources.memory.kernel: 67108864 cannot be applied: this kernel ignores kernel memory limits (memory.kmem.limit_in_bytes)\n',
    });
    expect(kmem()).toBe(before);
    expect((await rc('update', '--kernel-memory', '-1', ID)).code).toBe(0); // unlimited is what it is
    expect((await rc('delete', '--force', ID)).code).toBe(0);
    const limited = makeBundle(path.join(dir, 'k'), ['true'], (spec) => (spec.linux.resources = { memory: { kernel: 64 * 1024 * 1024 } }));
    const created = await rc('run', '-b', limited, ID);
    expect(created.code).toBe(1);
    expect(created.stderr).toContain('linux.resources.memory.kernel: 67108864 cannot be applied');
    expect((await rc('list', '-q')).stdout).toBe('');
  });
});
