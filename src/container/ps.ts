// `ps`'s table: like runc's (which runs `ps -ef` and keeps the container's rows), read from
// /proc directly so no procps is needed: UID PID PPID STAT CMD.
import * as fs from 'node:fs';
import { formatTable } from '../format/table';
import { isErrno } from '../sys/errno';
import { processStat } from '../sys/process';

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
