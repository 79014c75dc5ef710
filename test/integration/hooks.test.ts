// OCI hooks: each kind at its moment, with the state on stdin, and the spec's failure rules.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runcell, useScratch } from '../helpers/env';
import { makeBundle, whyNoContainers } from '../helpers/bundle';

const skip = whyNoContainers();
const ID = `hk${process.pid}`;
let dir: string;
let root: string;
let log: string;
useScratch((d, r) => {
  dir = d;
  root = r;
  log = path.join(dir, 'hooks.log');
  fs.writeFileSync(log, '');
});

const rc = (...args: string[]) => runcell(['--root', root, ...args]);

// A hook that appends "<kind> <state JSON>" to a log (inside the container: /hooklog/hooks.log).
const hook = (kind: string, logPath: string, extra = '') =>
  ({ path: '/bin/sh', args: ['sh', '-c', `s=$(cat); echo "${kind} $s" >> ${logPath}${extra}`] });

function entries(): Array<{ kind: string; status: string; pid: number }> {
  return fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [kind, ...json] = line.split(' ');
    const state = JSON.parse(json.join(' '));
    return { kind, status: state.status, pid: state.pid };
  });
}

describe.skipIf(skip !== null)(`OCI hooks${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('runs every kind in order, at its moment, with the state on stdin', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
      spec.mounts.push({ destination: '/hooklog', type: 'bind', source: dir, options: ['rbind', 'rw'] });
      spec.hooks = {
        prestart: [hook('prestart', log)],
        createRuntime: [hook('createRuntime', log)],
        createContainer: [hook('createContainer', log)],
        startContainer: [hook('startContainer', '/hooklog/hooks.log')],
        poststart: [hook('poststart', log)],
        poststop: [hook('poststop', log)],
      };
    });
    expect(await rc('create', '-b', bundle, ID)).toMatchObject({ code: 0, stderr: '' });
    const pid = JSON.parse((await rc('state', ID)).stdout).pid;
    expect(entries().map((e) => e.kind)).toEqual(['prestart', 'createRuntime', 'createContainer']);
    expect(await rc('start', ID)).toMatchObject({ code: 0 });
    expect(await rc('delete', '--force', ID)).toMatchObject({ code: 0 });
    expect(entries()).toEqual([
      { kind: 'prestart', status: 'creating', pid },
      { kind: 'createRuntime', status: 'creating', pid },
      { kind: 'createContainer', status: 'creating', pid },
      { kind: 'startContainer', status: 'created', pid },
      { kind: 'poststart', status: 'running', pid },
      { kind: 'poststop', status: 'stopped', pid: 0 },
    ]);
  });

  it('a failing createRuntime or createContainer hook fails create and leaves nothing', async () => {
    for (const kind of ['createRuntime', 'createContainer']) {
      const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => {
        spec.hooks = { [kind]: [hook(kind, log, '; exit 3')] };
      });
      const result = await rc('create', '-b', bundle, ID);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`${kind} hook "/bin/sh":? exited with status 3`));
      expect(fs.readdirSync(root)).toEqual([]);
    }
  });

  it('a hook past its timeout is killed and fails create', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['true'], (spec) => {
      spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'sleep 10'], timeout: 1 }] };
    });
    const result = await rc('create', '-b', bundle, ID);
    expect(result.stderr).toContain('createRuntime hook "/bin/sh" timed out after 1 s');
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('a failing poststart or poststop hook only warns', async () => {
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
      spec.hooks = { poststart: [hook('poststart', log, '; exit 4')], poststop: [hook('poststop', log, '; exit 5')] };
    });
    await rc('create', '-b', bundle, ID);
    const start = await rc('start', ID);
    expect(start.code).toBe(0);
    expect(start.stderr).toMatch(/poststart hook \\?"\/bin\/sh\\?" exited with status 4/);
    expect(JSON.parse((await rc('state', ID)).stdout).status).toBe('running');
    const del = await rc('delete', '--force', ID);
    expect(del.code).toBe(0);
    expect(del.stderr).toMatch(/poststop hook \\?"\/bin\/sh\\?" exited with status 5/);
    expect(entries().map((e) => e.kind)).toEqual(['poststart', 'poststop']);
  });

  it('refuses, rather than hangs on, a state too large for the hooks run inside the container', async () => {
    const huge = { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(100 * 1024) };
    const bundle = makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
      spec.annotations = huge;
      spec.hooks = { startContainer: [hook('startContainer', '/dev/null')] };
    });
    expect(await rc('create', '-b', bundle, ID)).toMatchObject({ code: 0, stderr: '' });
    const started = await rc('start', ID);
    expect(started.code).toBe(1);
    expect(started.stderr).toMatch(new RegExp(`^runcell: cannot start container "${ID}": the state for the startContainer hooks is \\d+ bytes, more than the 65520 runcell passes into a container \\(large annotations\\?\\)\n$`));
    expect(JSON.parse((await rc('state', ID)).stdout).status).toBe('created'); // untouched
    await rc('delete', '--force', ID);

    makeBundle(path.join(dir, 'bundle'), ['sleep', '1000'], (spec) => {
      spec.annotations = huge;
      spec.hooks = { createContainer: [hook('createContainer', '/dev/null')] };
    });
    const created = await rc('create', '-b', bundle, ID);
    expect(created.code).toBe(1);
    expect(created.stderr).toContain('the state for the createContainer hooks is');
    expect(fs.readdirSync(root)).toEqual([]);
  });
});
