// CRIU, driven as runc drives it: `criu swrk FD` on a SOCK_SEQPACKET pair, one protobuf message
// per packet (CRIU's images/rpc.proto), so that its notifications (network-lock, post-dump,
// setup-namespaces, post-restore with the restored pid) reach runcell while CRIU waits for the
// answer. The messages are few and flat, so they are encoded here by hand rather than through a
// protobuf library and a copy of rpc.proto: each field below carries rpc.proto's number.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { native } from '../sys/native';
import { waitReadable } from '../sys/fifo';
import { ContainerError } from './errors';

// ---- protobuf (proto2 wire format): varints and length-delimited fields ------------------

type Scalar = number | boolean | string | Buffer;
/** A message to encode: [field number, value]; a nested message is a Buffer it encoded. */
type Fields = Array<[number, Scalar | undefined]>;

function varint(value: number | bigint): Buffer {
  // Negative int32s go as ten-byte two's complement, as protobuf wants.
  let n = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (n !== 0n);
  return Buffer.from(bytes);
}

export function encodeMessage(fields: Fields): Buffer {
  const parts: Buffer[] = [];
  for (const [number, value] of fields) {
    if (value === undefined) continue;
    if (typeof value === 'number' || typeof value === 'boolean') {
      parts.push(varint(number << 3), varint(typeof value === 'boolean' ? (value ? 1 : 0) : value));
    } else {
      const bytes = typeof value === 'string' ? Buffer.from(value) : value;
      parts.push(varint((number << 3) | 2), varint(bytes.length), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** A decoded message: each field number with its values in order (varints as bigint). */
export type Decoded = Map<number, Array<bigint | Buffer>>;

export function decodeMessage(buffer: Buffer): Decoded {
  const fields: Decoded = new Map();
  let offset = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (offset >= buffer.length || shift > 63n) throw new CriuProtocolError('a truncated varint');
      const byte = buffer[offset++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
    }
  };
  while (offset < buffer.length) {
    const key = readVarint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    let value: bigint | Buffer;
    if (wire === 0) {
      value = readVarint();
    } else if (wire === 2) {
      const length = Number(readVarint());
      if (offset + length > buffer.length) throw new CriuProtocolError('a truncated field');
      value = buffer.subarray(offset, offset + length);
      offset += length;
    } else if (wire === 1 || wire === 5) {
      offset += wire === 1 ? 8 : 4; // fixed64 / fixed32: none in rpc.proto's answers, skipped
      continue;
    } else {
      throw new CriuProtocolError(`wire type ${wire}`);
    }
    const list = fields.get(number) ?? [];
    list.push(value);
    fields.set(number, list);
  }
  return fields;
}

class CriuProtocolError extends Error {
  constructor(what: string) {
    super(`criu sent a malformed message: ${what}`);
  }
}

const int = (m: Decoded, n: number): number | undefined => {
  const v = m.get(n)?.[0];
  return typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : undefined;
};
const str = (m: Decoded, n: number): string | undefined => {
  const v = m.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString() : undefined;
};
const sub = (m: Decoded, n: number): Decoded | undefined => {
  const v = m.get(n)?.[0];
  return Buffer.isBuffer(v) ? decodeMessage(v) : undefined;
};

// ---- rpc.proto's messages, as far as runcell uses them ------------------------------------

/** criu_req_type */
export const enum ReqType { Dump = 1, Restore = 2, Notify = 6, Version = 10 }

/** criu_cg_mode, by the names of runc's --manage-cgroups-mode. */
export const CGROUP_MODES = { ignore: 0, none: 1, props: 2, soft: 3, full: 4, strict: 5 } as const;
export type CgroupMode = keyof typeof CGROUP_MODES;

export interface CriuOpts {
  imagesDirFd: number;
  workDirFd?: number;
  parentImg?: string;
  pid?: number;
  leaveRunning?: boolean;
  extUnixSk?: boolean;
  tcpEstablished?: boolean;
  shellJob?: boolean;
  fileLocks?: boolean;
  logLevel?: number;
  logFile?: string;
  root?: string;
  autoDedup?: boolean;
  manageCgroupsMode?: CgroupMode;
  cgRoot?: Array<{ ctrl?: string; path: string }>;
  rstSibling?: boolean;
  inheritFd?: Array<{ key: string; fd: number }>;
  external?: string[];
  emptyNs?: number;
  orphanPtsMaster?: boolean;
  /** A frozen (paused) container's freezer cgroup: CRIU takes the tree through it. */
  freezeCgroup?: string;
  /** The cgroup controllers to dump ("unified" for v2), and no other. */
  cgroupDumpController?: string[];
  /** A CRIU configuration file (its long options, one a line). */
  configFile?: string;
}

function encodeOpts(o: CriuOpts): Buffer {
  const fields: Fields = [
    [1, o.imagesDirFd], [2, o.pid], [3, o.leaveRunning], [4, o.extUnixSk], [5, o.tcpEstablished], [7, o.shellJob],
    [8, o.fileLocks], [9, o.logLevel], [10, o.logFile], [12, true /* notify_scripts: the notifications below */],
    [13, o.root], [14, o.parentImg], [16, o.autoDedup], [17, o.workDirFd],
  ];
  if (o.manageCgroupsMode !== undefined) fields.push([24, true], [34, CGROUP_MODES[o.manageCgroupsMode]]);
  for (const root of o.cgRoot ?? []) fields.push([25, encodeMessage([[1, root.ctrl], [2, root.path]])]);
  for (const controller of o.cgroupDumpController ?? []) fields.push([43, controller]);
  fields.push([44, o.freezeCgroup]);
  fields.push([26, o.rstSibling]);
  for (const inherit of o.inheritFd ?? []) fields.push([27, encodeMessage([[1, inherit.key], [2, inherit.fd]])]);
  for (const external of o.external ?? []) fields.push([37, external]);
  fields.push([38, o.emptyNs], [50, o.orphanPtsMaster], [51, o.configFile]);
  return encodeMessage(fields);
}

export interface CriuResponse {
  type: number;
  success: boolean;
  /** criu_restore_resp.pid: the restored tree's root, as the host sees it. */
  restoredPid?: number;
  notify?: { script: string; pid?: number };
  errno?: number;
  errmsg?: string;
  version?: { major: number; minor: number; sublevel: number };
}

export function decodeResponse(packet: Buffer): CriuResponse {
  const m = decodeMessage(packet);
  const type = int(m, 1);
  if (type === undefined) throw new CriuProtocolError('an answer without a type');
  const response: CriuResponse = { type, success: m.get(2)?.[0] === 1n };
  const restore = sub(m, 4);
  if (restore !== undefined) response.restoredPid = int(restore, 1);
  const notify = sub(m, 5);
  if (notify !== undefined) response.notify = { script: str(notify, 1) ?? '', pid: int(notify, 2) };
  response.errno = int(m, 7);
  response.errmsg = str(m, 9);
  const version = sub(m, 10);
  if (version !== undefined) {
    response.version = { major: int(version, 1) ?? 0, minor: int(version, 2) ?? 0, sublevel: int(version, 4) ?? 0 };
  }
  return response;
}

// ---- finding criu, and its version ---------------------------------------------------------

export interface CriuBinary {
  /** Absolute path (the reaper executes it without a PATH lookup). */
  path: string;
  version: { major: number; minor: number; sublevel: number };
}

/**
 * The oldest CRIU runcell takes: Debian 12's 3.17 (measured in the modern-host VM). From Linux
 * 6.13 the kernel splits [vvar], which CRIU before 4.1 refuses ("vdso: Unexpected rt vDSO area
 * bounds"), so there it must be 4.1 (measured on 6.18).
 */
export function requiredCriuVersion(kernelRelease = os.release()): { major: number; minor: number; why: string } {
  const [major, minor] = kernelRelease.split('.').map((n) => Number.parseInt(n, 10));
  if (major > 6 || (major === 6 && minor >= 13)) {
    return { major: 4, minor: 1, why: `Linux ${kernelRelease} splits [vvar] from the vDSO, which CRIU before 4.1 cannot dump` };
  }
  return { major: 3, minor: 17, why: 'the oldest CRIU runcell is tested with' };
}

function criuError(message: string): ContainerError {
  return new ContainerError('ERR_CRIU', message, {});
}

/** The CRIU to use (`--criu PATH`, else `criu` in PATH), checked for its version. */
export async function locateCriu(given = 'criu'): Promise<CriuBinary> {
  const required = requiredCriuVersion();
  const needed = `checkpoint and restore need CRIU ${required.major}.${required.minor} or newer (${required.why})`;
  const file = given.includes('/') ? path.resolve(given) : lookPath(given);
  if (file === undefined) throw criuError(`"${given}" is not in PATH: ${needed}; install it, or name it with --criu PATH`);
  const output = await new Promise<string>((resolve, reject) => {
    execFile(file, ['--version'], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(criuError(`cannot run CRIU "${file}": ${(stderr || error.message).trim()}; ${needed}`));
      else resolve(stdout);
    });
  });
  const match = /Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) throw criuError(`"${file}" did not answer --version as CRIU does: ${JSON.stringify(output.slice(0, 80))}; ${needed}`);
  const version = { major: Number(match[1]), minor: Number(match[2]), sublevel: Number(match[3] ?? 0) };
  if (version.major < required.major || (version.major === required.major && version.minor < required.minor)) {
    throw criuError(`CRIU "${file}" is version ${version.major}.${version.minor}.${version.sublevel}: ${needed}`);
  }
  return { path: file, version };
}

function lookPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

// ---- a session with `criu swrk` ------------------------------------------------------------

/**
 * What went wrong, from CRIU's log: its last errors (CRIU's own message is the first error it
 * logged, often a harmless one such as "Can't setup RLIMIT_NOFILE").
 */
export function criuLogErrors(logFile: string, count = 3): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return undefined;
  }
  const errors = text.split('\n').filter((line) => /\bError\b/.test(line) && !/RLIMIT_NOFILE/.test(line))
    .map((line) => line.replace(/^\(\s*[\d.]+\)\s*(\d+:\s*)?/, '').trim());
  return errors.length === 0 ? undefined : errors.slice(-count).join('; ');
}

/**
 * Answers a notification (CRIU waits for it); throwing fails the dump or restore. `fd` is the
 * descriptor CRIU sent with it (orphan-pts-master: the restored terminal's master), closed
 * once the handler returns.
 */
export type NotifyHandler = (script: string, pid: number | undefined, fd: number | undefined) => void | Promise<void>;

/**
 * Our end of a `criu swrk` socket. CRIU reads the images directory and the working directory
 * through /proc/<peer>/fd/N, the peer being the process that made the pair: this one.
 */
export class CriuSession {
  private readonly buffer = Buffer.alloc(1 << 20);
  private closed = false;

  private constructor(readonly fd: number, private readonly child?: ChildProcess) {}

  /** A pair: ours, and the end to hand to `criu swrk` (in another process: see restore.ts). */
  static pair(): { session: CriuSession; peerFd: number } {
    const [ours, theirs] = native.seqpacketPair();
    return { session: new CriuSession(ours), peerFd: theirs };
  }

  /** Starts `criu swrk 3` as our child, in a session of its own (a terminal's ^C is not for it). */
  static async spawn(criu: CriuBinary): Promise<CriuSession> {
    const [ours, theirs] = native.seqpacketPair();
    try {
      const child = spawn(criu.path, ['swrk', '3'], { stdio: ['ignore', 'ignore', 'ignore', theirs], detached: true });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      // Not unref'd: while we wait for an answer only this child keeps the event loop alive (our
      // socket is read through a poll that does not), and Node would end the program mid-wait.
      return new CriuSession(ours, child);
    } catch (error) {
      fs.closeSync(ours);
      throw error;
    } finally {
      fs.closeSync(theirs);
    }
  }

  /**
   * Sends a request and answers CRIU's notifications until its final answer. `onNotify` sees
   * each one; answered with success unless it throws (CRIU then fails the action).
   */
  async request(type: ReqType, opts: CriuOpts | undefined, onNotify?: NotifyHandler): Promise<CriuResponse> {
    this.send(encodeMessage([[1, type], [2, opts === undefined ? undefined : encodeOpts(opts)]]));
    for (;;) {
      const { response, fd } = await this.receive();
      if (response.type !== ReqType.Notify) {
        if (fd >= 0) fs.closeSync(fd);
        return response;
      }
      let ok = true;
      let failure: unknown;
      try {
        await onNotify?.(response.notify?.script ?? '', response.notify?.pid, fd >= 0 ? fd : undefined);
      } catch (error) {
        ok = false;
        failure = error;
      } finally {
        // A descriptor CRIU sent (orphan-pts-master's) is the handler's to use, not to keep.
        if (fd >= 0) fs.closeSync(fd);
      }
      this.send(encodeMessage([[1, ReqType.Notify], [3, ok]]));
      if (!ok) {
        // CRIU now fails and answers; the notification's error is the one to report.
        await this.receive().then(({ fd: sent }) => sent >= 0 && fs.closeSync(sent), () => undefined);
        throw failure;
      }
    }
  }

  private send(message: Buffer): void {
    fs.writeSync(this.fd, message);
  }

  // One packet, and the descriptor CRIU attached to it (-1: none).
  private async receive(): Promise<{ response: CriuResponse; fd: number }> {
    await waitReadable(this.fd);
    const { length, fd } = native.recvWithFd(this.fd, this.buffer);
    try {
      if (length === 0) throw criuError('criu exited without an answer');
      return { response: decodeResponse(this.buffer.subarray(0, length)), fd };
    } catch (error) {
      if (fd >= 0) fs.closeSync(fd);
      throw error;
    }
  }

  /** Closes our end: CRIU sees EOF and exits. Waits for our own child to be gone. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    }
  }
}
