// bpf(2), the commands a cgroup device filter needs: load, attach, detach, query, and reopen an
// attached program by id. Descriptors returned here are the caller's to close (fs.closeSync).
// `path` only names the cgroup directory in an error message.
import { native } from './native';
import { validateInteger } from './validate';

export const { BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI } = native.constants;

/**
 * BPF_PROG_LOAD: the program's descriptor. With `log`, the verifier writes its reasoning there
 * (NUL-terminated), which says why a program was refused.
 */
export function bpfProgLoad(type: number, instructions: Buffer, license: string, log?: Buffer): number {
  if (!Buffer.isBuffer(instructions)) throw new TypeError('The "instructions" argument must be a Buffer');
  return native.bpfProgLoad(validateInteger(type, 'type', 0), instructions, String(license), log);
}

/** BPF_PROG_ATTACH of a program to the cgroup directory open at `cgroupFd`. */
export function bpfProgAttach(cgroupFd: number, progFd: number, attachType: number, flags: number, path?: string): void {
  native.bpfProgAttach(validateInteger(cgroupFd, 'cgroupFd', 0), validateInteger(progFd, 'progFd', 0),
    validateInteger(attachType, 'attachType', 0), validateInteger(flags, 'flags', 0), path);
}

/** BPF_PROG_DETACH of that program from the cgroup. */
export function bpfProgDetach(cgroupFd: number, progFd: number, attachType: number, path?: string): void {
  native.bpfProgDetach(validateInteger(cgroupFd, 'cgroupFd', 0), validateInteger(progFd, 'progFd', 0),
    validateInteger(attachType, 'attachType', 0), path);
}

/** BPF_PROG_QUERY: the ids of the programs attached to the cgroup itself, in run order. */
export function bpfProgQuery(cgroupFd: number, attachType: number, path?: string): { attachFlags: number; ids: number[] } {
  return native.bpfProgQuery(validateInteger(cgroupFd, 'cgroupFd', 0), validateInteger(attachType, 'attachType', 0), path);
}

/** BPF_PROG_GET_FD_BY_ID: a descriptor of an attached (or otherwise live) program. */
export function bpfProgGetFdById(id: number): number {
  return native.bpfProgGetFdById(validateInteger(id, 'id', 1, 2 ** 32 - 1));
}
