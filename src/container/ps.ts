// `ps`'s table, as runc makes it: ps(1) with the caller's arguments (default -ef), its header,
// and the lines whose PID column is one of the container's processes. Without ps(1) on the
// host, and no arguments given, a table read from /proc: UID PID PPID STAT CMD.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { formatTable } from '../format/table';
import { isErrno } from '../sys/errno';
import { processStat } from '../sys/process';

/** `runcell ps ID [ps args]`: the lines of ps(1)'s output that are the container's. */
export function psTable(pids: number[], psArgs: string[]): string {
  const args = psArgs.length > 0 ? psArgs : ['-ef'];
  let output: string;
  try {
    output = execFileSync('ps', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { status?: number; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT' && psArgs.length === 0) return processTable(pids);
    if (failure.code === 'ENOENT') throw new Error('ps: ps(1) is not installed (procps), needed for its arguments');
    throw new Error(`ps ${args.join(' ')}: exit status ${failure.status}: ${`${failure.stdout ?? ''}${failure.stderr ?? ''}`.trim()}`);
  }
  const [header, ...lines] = output.split('\n');
  const pidIndex = header.trim().split(/\s+/).indexOf('PID');
  if (pidIndex < 0) throw new Error(`ps ${args.join(' ')}: no PID column in its output`);
  const ours = new Set(pids);
  const kept = lines.filter((line) => {
    if (line.length === 0) return false;
    const pid = Number(line.trim().split(/\s+/)[pidIndex]);
    if (!Number.isInteger(pid)) throw new Error(`ps ${args.join(' ')}: cannot read a pid in "${line}"`);
    return ours.has(pid);
  });
  return [header, ...kept].map((line) => `${line}\n`).join('');
}

export function processTable(pids: number[]): string {
  const rows = [['UID', 'PID', 'PPID', 'STAT', 'CMD']];
  for (const pid of pids) {
    try {
      const stat = processStat(pid);
      const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      rows.push([uid, String(pid), String(stat.ppid), stat.state, cmd]);
    } catch (error) {
      if (!isErrno(error, 'ENOENT', 'ESRCH')) throw error; // exited while we looked
    }
  }
  return formatTable(rows);
}
