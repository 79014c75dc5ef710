// The device rules of a container (linux.resources.devices plus the devices every container
// gets), and on cgroup v2 their compilation into the eBPF program the kernel runs on each
// open(2) and mknod(2) of a device node (BPF_PROG_TYPE_CGROUP_DEVICE), as runc's devicefilter.go
// and crun's ebpf.c do. The policy and the instruction encoding live here; the addon only loads
// and attaches the bytes (src/sys/bpf.ts).
//
// What the rules mean (the eBPF program's semantics; v1's kernel list, written rule by rule,
// agrees for the rule lists runtimes and engines write, and differs only where a rule overlaps
// part of an earlier wildcard, which v1 cannot express):
//   - the spec says "The runtime MUST apply entries in the listed order": for each access the
//     kernel asks about (read, write, mknod), the LAST rule in the list that matches the device
//     and names that access decides; a device no rule matches is denied;
//   - a request of several accesses at once (open O_RDWR asks for read and write) is allowed
//     only when each of them is;
//   - type "a" (or no type) means every device and every access, whatever its numbers and
//     access say: it is cgroup v1's "a", which resets the whole list (runc does the same);
//   - a missing major or minor, or -1, matches any number; a missing access means "rwm".
// crun's program matches a rule only when it names every requested access at once, so after
// [allow c 1:3 rwm, deny c 1:3 w] an O_RDWR open passes where O_WRONLY fails; deciding access by
// access closes that hole.
import { SpecError } from '../oci/spec';

/** A rule of linux.resources.devices, as the spec (and `runcell update`) give it. */
export interface DeviceRule {
  allow: boolean;
  type?: string;
  major?: number | null;
  minor?: number | null;
  access?: string;
}

/** A rule checked and made explicit. */
export interface DeviceMatch {
  allow: boolean;
  /** 'a' is every device (and every access). */
  type: 'a' | 'b' | 'c';
  /** -1: any. */
  major: number;
  minor: number;
  /** The accesses the rule names, as BPF_DEVCG_ACC_* bits. */
  access: number;
}

// include/uapi/linux/bpf.h: struct bpf_cgroup_dev_ctx and its constants.
export const ACCESS = { mknod: 1, read: 2, write: 4 } as const;
export const DEVICE_TYPE = { block: 1, char: 2 } as const;
const ALL_ACCESS = ACCESS.mknod | ACCESS.read | ACCESS.write;
const ACCESS_LETTERS: Record<string, number> = { r: ACCESS.read, w: ACCESS.write, m: ACCESS.mknod };

/**
 * The devices every container may use, after the spec's own rules (runc's AllowedDevices):
 * mknod of any node (opening it is another matter), /dev/null, zero, full, random, urandom,
 * tty, console, ptmx and the pseudo-terminals. A "deny all" in the spec must not take them away.
 */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  // runc 1.1's AllowedDevices, in its order: null, random, full, tty, zero, urandom, the pty
  // slaves, ptmx, tun. Not /dev/console (5:1): runc 1.1 does not allow it either.
  ...[[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [136, -1], [5, 2], [10, 200]]
    .map(([major, minor]) => ({ allow: true, type: 'c', major, minor, access: 'rwm' })),
];

/**
 * A container's device rules: the spec's, then the defaults. The nodes linux.devices creates
 * get no rule of their own (runc's rule: linux.resources.devices gives access).
 */
export function containerDeviceRules(specRules: readonly DeviceRule[] | undefined | null): DeviceRule[] {
  if (specRules !== undefined && specRules !== null && !Array.isArray(specRules)) throw new SpecError('linux.resources.devices: must be an array of rules');
  return [
    ...(specRules ?? []),
    ...DEFAULT_DEVICE_RULES,
  ];
}

/** Checks each rule, naming the field of a bad one. */
export function parseDeviceRules(rules: readonly DeviceRule[]): DeviceMatch[] {
  return rules.map((rule, index) => {
    const field = `linux.resources.devices[${index}]`;
    if (typeof rule !== 'object' || rule === null) throw new SpecError(`${field}: must be an object`);
    if (typeof rule.allow !== 'boolean') throw new SpecError(`${field}.allow: must be true or false`);
    const type = rule.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') throw new SpecError(`${field}.type: "${type}" is not a, b or c`);
    let access = 0;
    for (const letter of rule.access ?? 'rwm') {
      const bit = ACCESS_LETTERS[letter];
      if (bit === undefined) throw new SpecError(`${field}.access: "${rule.access}" may only contain r, w and m`);
      access |= bit;
    }
    const number = (name: 'major' | 'minor'): number => {
      const value = rule[name];
      if (value === undefined || value === null || value === -1) return -1;
      // Linux's device numbers are 12 and 20 bits wide; the program compares 32-bit immediates.
      if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new SpecError(`${field}.${name}: ${value} is not a device number`);
      return value;
    };
    if (type === 'a') return { allow: rule.allow, type, major: -1, minor: -1, access: ALL_ACCESS };
    return { allow: rule.allow, type, major: number('major'), minor: number('minor'), access };
  });
}

/** What the rules decide for one request: the reference the compiled program must agree with. */
export function deviceAllowed(rules: readonly DeviceMatch[], request: { type: number; major: number; minor: number; access: number }): boolean {
  for (const bit of [ACCESS.mknod, ACCESS.read, ACCESS.write]) {
    if ((request.access & bit) === 0) continue;
    let allowed = false; // no rule matched: denied
    for (const rule of rules) if ((rule.access & bit) !== 0 && matches(rule, request)) allowed = rule.allow;
    if (!allowed) return false;
  }
  return true;
}

function matches(rule: DeviceMatch, device: { type: number; major: number; minor: number }): boolean {
  if (rule.type !== 'a' && DEVICE_TYPE[rule.type === 'b' ? 'block' : 'char'] !== device.type) return false;
  return (rule.major === -1 || rule.major === device.major) && (rule.minor === -1 || rule.minor === device.minor);
}

/** One eBPF instruction (struct bpf_insn). `off` of a jump is relative to the next instruction. */
export interface BpfInstruction {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// include/uapi/linux/bpf_common.h and bpf.h: the opcodes the program uses.
export const OP = {
  LDX_MEM_W: 0x61, // dst = *(u32 *)(src + off)
  ALU32_AND_K: 0x54, // dst = (u32)(dst & imm)
  ALU32_RSH_K: 0x74, // dst = (u32)(dst >> imm)
  ALU32_MOV_K: 0xb4, // dst = (u32)imm
  JMP_JA: 0x05, // goto +off
  JMP_JNE_K: 0x55, // if dst != imm goto +off
  JMP_JSET_K: 0x45, // if dst & imm goto +off
  JMP_EXIT: 0x95, // return r0
} as const;

// The registers the prologue fills from struct bpf_cgroup_dev_ctx (r1 points at it).
const R0 = 0, R1 = 1, TYPE = 2, ACCESS_REG = 3, MAJOR = 4, MINOR = 5;

/**
 * The device filter as eBPF: for each access bit the request has, the rules naming that bit,
 * last first; the first that matches the device decides (allow: on to the next bit; deny:
 * return 0). A bit no rule matches is denied. Every instruction is reachable and every jump goes
 * forward, as the verifier requires.
 */
export function deviceFilterProgram(rules: readonly DeviceMatch[]): BpfInstruction[] {
  const asm = new Assembler();
  asm.emit(OP.LDX_MEM_W, TYPE, R1, 0, 0); // access_type: the device type in the low 16 bits,
  asm.emit(OP.ALU32_AND_K, TYPE, 0, 0, 0xffff);
  asm.emit(OP.LDX_MEM_W, ACCESS_REG, R1, 0, 0); // the access bits in the high 16
  asm.emit(OP.ALU32_RSH_K, ACCESS_REG, 0, 0, 16);
  asm.emit(OP.LDX_MEM_W, MAJOR, R1, 4, 0);
  asm.emit(OP.LDX_MEM_W, MINOR, R1, 8, 0);
  [ACCESS.read, ACCESS.write, ACCESS.mknod].forEach((bit, index) => {
    const next = `bit-${index + 1}`;
    // Last rule first; nothing before a rule for every device can ever decide.
    const chain: DeviceMatch[] = [];
    for (const rule of [...rules].reverse()) {
      if ((rule.access & bit) === 0) continue;
      chain.push(rule);
      if (rule.type === 'a') break;
    }
    const everything = chain[0]?.type === 'a';
    if (!(everything && chain[0].allow)) {
      asm.jump(OP.JMP_JSET_K, ACCESS_REG, bit, `bit-${index}-asked`);
      asm.jump(OP.JMP_JA, 0, 0, next);
      asm.label(`bit-${index}-asked`);
      chain.forEach((rule, r) => {
        const skip = `bit-${index}-rule-${r + 1}`;
        if (rule.type !== 'a') asm.jump(OP.JMP_JNE_K, TYPE, rule.type === 'b' ? DEVICE_TYPE.block : DEVICE_TYPE.char, skip);
        if (rule.major !== -1) asm.jump(OP.JMP_JNE_K, MAJOR, rule.major, skip);
        if (rule.minor !== -1) asm.jump(OP.JMP_JNE_K, MINOR, rule.minor, skip);
        asm.jump(OP.JMP_JA, 0, 0, rule.allow ? next : 'deny');
        asm.label(skip);
      });
      if (chain.at(-1)?.type !== 'a') asm.jump(OP.JMP_JA, 0, 0, 'deny'); // no rule matched
    }
    asm.label(next);
  });
  asm.emit(OP.ALU32_MOV_K, R0, 0, 0, 1);
  asm.emit(OP.JMP_EXIT, 0, 0, 0, 0);
  if (asm.isTarget('deny')) {
    asm.label('deny');
    asm.emit(OP.ALU32_MOV_K, R0, 0, 0, 0);
    asm.emit(OP.JMP_EXIT, 0, 0, 0, 0);
  }
  return asm.resolve();
}

class Assembler {
  private readonly code: Array<BpfInstruction & { target?: string }> = [];
  private readonly labels = new Map<string, number>();

  emit(code: number, dst: number, src: number, off: number, imm: number): void {
    this.code.push({ code, dst, src, off, imm });
  }

  jump(code: number, dst: number, imm: number, target: string): void {
    this.code.push({ code, dst, src: 0, off: 0, imm, target });
  }

  label(name: string): void {
    this.labels.set(name, this.code.length);
  }

  isTarget(name: string): boolean {
    return this.code.some((insn) => insn.target === name);
  }

  resolve(): BpfInstruction[] {
    return this.code.map(({ target, ...insn }, index) => {
      if (target === undefined) return insn;
      const at = this.labels.get(target);
      if (at === undefined) throw new Error(`device filter: jump to an unplaced label ${target}`);
      return { ...insn, off: at - index - 1 };
    });
  }
}

/** struct bpf_insn[] in this machine's byte order (the registers share a byte: dst:4, src:4). */
export function encodeProgram(program: readonly BpfInstruction[]): Buffer {
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1; // os.endianness() === 'LE', without loading node:os
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    bytes.writeUInt8(insn.code, i * 8);
    bytes.writeUInt8(little ? (insn.src << 4) | insn.dst : (insn.dst << 4) | insn.src, i * 8 + 1);
    if (little) {
      bytes.writeInt16LE(insn.off, i * 8 + 2);
      bytes.writeInt32LE(insn.imm | 0, i * 8 + 4);
    } else {
      bytes.writeInt16BE(insn.off, i * 8 + 2);
      bytes.writeInt32BE(insn.imm | 0, i * 8 + 4);
    }
  });
  return bytes;
}

/** The program as text, one instruction a line (bpftool's notation), for tests and debugging. */
export function disassemble(program: readonly BpfInstruction[]): string[] {
  return program.map((insn, i) => {
    const to = `goto pc+${insn.off}`;
    switch (insn.code) {
      case OP.LDX_MEM_W: return `r${insn.dst} = *(u32 *)(r${insn.src} + ${insn.off})`;
      case OP.ALU32_AND_K: return `w${insn.dst} &= ${insn.imm}`;
      case OP.ALU32_RSH_K: return `w${insn.dst} >>= ${insn.imm}`;
      case OP.ALU32_MOV_K: return `w${insn.dst} = ${insn.imm}`;
      case OP.JMP_JA: return to;
      case OP.JMP_JNE_K: return `if r${insn.dst} != ${insn.imm} ${to}`;
      case OP.JMP_JSET_K: return `if r${insn.dst} & ${insn.imm} ${to}`;
      case OP.JMP_EXIT: return 'exit';
      default: throw new Error(`device filter: instruction ${i} has an unknown opcode 0x${insn.code.toString(16)}`);
    }
  });
}
