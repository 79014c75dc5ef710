// Device rules -> eBPF instructions, without a kernel: the exact program for known rule lists,
// and, through a small interpreter of the instructions the compiler emits, the decision for
// every request against the rules' meaning (deviceAllowed) and against hand-written outcomes.
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ACCESS, DEFAULT_DEVICE_RULES, DEVICE_TYPE, OP, containerDeviceRules, deviceAllowed, deviceFilterProgram, disassemble, encodeProgram,
  parseDeviceRules, type BpfInstruction, type DeviceRule,
} from '../../src/container/device-filter';
import { defaultSpec } from '../../src';

interface Request { type: number; major: number; minor: number; access: number }

/**
 * Runs a program the way the kernel would for struct bpf_cgroup_dev_ctx { u32 access_type
 * (type | access << 16); u32 major; u32 minor; }, and checks what the verifier checks for
 * these opcodes: jumps forward and in range, every instruction reachable, r0 set at exit.
 */
function run(program: readonly BpfInstruction[], request: Request): number {
  const ctx = [request.type | (request.access << 16), request.major, request.minor];
  const regs: Array<number | undefined> = new Array(11).fill(undefined);
  regs[1] = -1; // the context pointer
  let pc = 0;
  for (let steps = 0; steps < 10_000; steps++) {
    const insn = program[pc];
    if (insn === undefined) throw new Error(`fell off the program at ${pc}`);
    const jump = (taken: boolean) => {
      if (insn.off < 0) throw new Error(`backward jump at ${pc}`);
      pc += 1 + (taken ? insn.off : 0);
    };
    const dst = () => {
      const v = regs[insn.dst];
      if (v === undefined) throw new Error(`r${insn.dst} read before written at ${pc}`);
      return v;
    };
    switch (insn.code) {
      case OP.LDX_MEM_W:
        if (regs[insn.src] !== -1 || insn.off % 4 !== 0) throw new Error(`bad load at ${pc}`);
        regs[insn.dst] = ctx[insn.off / 4] >>> 0;
        pc++;
        break;
      case OP.ALU32_AND_K: regs[insn.dst] = (dst() & insn.imm) >>> 0; pc++; break;
      case OP.ALU32_RSH_K: regs[insn.dst] = dst() >>> insn.imm; pc++; break;
      case OP.ALU32_MOV_K: regs[insn.dst] = insn.imm >>> 0; pc++; break;
      case OP.JMP_JA: jump(true); break;
      case OP.JMP_JNE_K: jump(dst() !== insn.imm); break;
      case OP.JMP_JSET_K: jump((dst() & insn.imm) !== 0); break;
      case OP.JMP_EXIT:
        if (regs[0] === undefined) throw new Error(`exit without r0 at ${pc}`);
        return regs[0];
      default: throw new Error(`unknown opcode ${insn.code} at ${pc}`);
    }
  }
  throw new Error('does not terminate');
}

function reachable(program: readonly BpfInstruction[]): boolean[] {
  const seen = program.map(() => false);
  const visit = (pc: number) => {
    while (pc < program.length && !seen[pc]) {
      seen[pc] = true;
      const insn = program[pc];
      if (insn.code === OP.JMP_EXIT) return;
      if (insn.code === OP.JMP_JA) { pc += 1 + insn.off; continue; }
      if (insn.code === OP.JMP_JNE_K || insn.code === OP.JMP_JSET_K) visit(pc + 1 + insn.off);
      pc++;
    }
  };
  visit(0);
  return seen;
}

const C = DEVICE_TYPE.char, B = DEVICE_TYPE.block;
const { read: R, write: W, mknod: M } = ACCESS;
const compile = (rules: DeviceRule[]) => deviceFilterProgram(parseDeviceRules(rules));
const allowed = (rules: DeviceRule[], request: Request) => run(compile(rules), request) === 1;

// Every request over a few interesting devices and all access combinations.
const DEVICES = [[C, 1, 3], [C, 1, 5], [C, 5, 2], [C, 136, 0], [C, 136, 7], [B, 8, 0], [B, 8, 1], [C, 8, 0], [C, 10, 200], [B, 1, 3]];
const REQUESTS: Request[] = DEVICES.flatMap(([type, major, minor]) =>
  [M, R, W, R | W, R | M, R | W | M].map((access) => ({ type, major, minor, access })));

describe('device rules', () => {
  it('are checked, each bad field named', () => {
    expect(() => parseDeviceRules([{ allow: true, type: 'x' }])).toThrow('linux.resources.devices[0].type: "x" is not a, b or c');
    expect(() => parseDeviceRules([{ allow: true, type: 'c', access: 'rwx' }])).toThrow('linux.resources.devices[0].access: "rwx" may only contain r, w and m');
    expect(() => parseDeviceRules([{ allow: true }, { allow: true, type: 'c', major: 1.5 }])).toThrow('linux.resources.devices[1].major: 1.5 is not a device number');
    expect(() => parseDeviceRules([{ allow: true, type: 'b', minor: -2 }])).toThrow('linux.resources.devices[0].minor: -2');
    expect(() => parseDeviceRules([{ allow: 'yes' } as unknown as DeviceRule])).toThrow('linux.resources.devices[0].allow: must be true or false');
  });

  it('read type "a" as every device and every access, and a missing access as rwm', () => {
    expect(parseDeviceRules([{ allow: false, type: 'a', major: 8, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3 }])).toEqual([
      { allow: false, type: 'a', major: -1, minor: -1, access: R | W | M },
      { allow: true, type: 'c', major: 1, minor: 3, access: R | W | M },
    ]);
    expect(parseDeviceRules([{ allow: true, type: 'b', major: null, minor: -1, access: '' }])).toEqual([
      { allow: true, type: 'b', major: -1, minor: -1, access: 0 },
    ]);
  });

  it('put the spec\'s rules first, then the defaults (runc 1.1\'s, without /dev/console)', () => {
    const rules = containerDeviceRules([{ allow: false, access: 'rwm' }]);
    expect(rules[0]).toEqual({ allow: false, access: 'rwm' });
    expect(rules.slice(1)).toEqual(DEFAULT_DEVICE_RULES);
    expect(DEFAULT_DEVICE_RULES.filter((r) => r.type === 'c' && r.major !== -1).map((r) => `${r.major}:${r.minor}`))
      .toEqual(['1:3', '1:8', '1:7', '5:0', '1:5', '1:9', '136:-1', '5:2', '10:200']);
    expect(containerDeviceRules(undefined)).toEqual(DEFAULT_DEVICE_RULES);
  });
});

describe('the device filter program', () => {
  it('is this, for deny-all then /dev/null', () => {
    expect(disassemble(compile([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]))).toEqual([
      'r2 = *(u32 *)(r1 + 0)', 'w2 &= 65535', 'r3 = *(u32 *)(r1 + 0)', 'w3 >>= 16', 'r4 = *(u32 *)(r1 + 4)', 'r5 = *(u32 *)(r1 + 8)',
      // read: c 1:3 allows, else the deny-all
      'if r3 & 2 goto pc+1', 'goto pc+5',
      'if r2 != 2 goto pc+3', 'if r4 != 1 goto pc+2', 'if r5 != 3 goto pc+1', 'goto pc+1', 'goto pc+16',
      // write: the same
      'if r3 & 4 goto pc+1', 'goto pc+5',
      'if r2 != 2 goto pc+3', 'if r4 != 1 goto pc+2', 'if r5 != 3 goto pc+1', 'goto pc+1', 'goto pc+9',
      // mknod: the same
      'if r3 & 1 goto pc+1', 'goto pc+5',
      'if r2 != 2 goto pc+3', 'if r4 != 1 goto pc+2', 'if r5 != 3 goto pc+1', 'goto pc+1', 'goto pc+2',
      'w0 = 1', 'exit',
      'w0 = 0', 'exit',
    ]);
  });

  it('is the shortest program when everything is allowed, and has no deny path to reach', () => {
    expect(disassemble(compile([{ allow: true }]))).toEqual([
      'r2 = *(u32 *)(r1 + 0)', 'w2 &= 65535', 'r3 = *(u32 *)(r1 + 0)', 'w3 >>= 16', 'r4 = *(u32 *)(r1 + 4)', 'r5 = *(u32 *)(r1 + 8)',
      'w0 = 1', 'exit',
    ]);
  });

  it('leaves out rules that a later rule for every device overrides', () => {
    const shadowed = compile([{ allow: true, type: 'b', major: 8, minor: 0 }, { allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }]);
    expect(shadowed).toEqual(compile([{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }]));
  });

  it('encodes struct bpf_insn little-endian here: code, dst | src << 4, off, imm', () => {
    const bytes = encodeProgram([{ code: OP.LDX_MEM_W, dst: 4, src: 1, off: 4, imm: 0 }, { code: OP.JMP_JNE_K, dst: 5, src: 0, off: -1, imm: 0x7fffffff }]);
    expect([...bytes]).toEqual([0x61, 0x14, 4, 0, 0, 0, 0, 0, 0x55, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  });

  it('reaches every instruction, for the default spec\'s rules and for odd ones', () => {
    const lists: DeviceRule[][] = [
      containerDeviceRules((defaultSpec() as { linux: { resources: { devices: DeviceRule[] } } }).linux.resources.devices),
      [], [{ allow: false }], [{ allow: true, type: 'c', access: 'r' }], [{ allow: true, type: 'b', major: 8, access: 'w' }, { allow: false, type: 'b', major: 8, minor: 1, access: 'rw' }],
    ];
    for (const rules of lists) {
      const program = compile(rules);
      expect(reachable(program).every(Boolean)).toBe(true);
      for (const request of REQUESTS) run(program, request); // terminates with r0 set, jumps forward
    }
  });
});

describe('what the program decides', () => {
  const defaults = (spec: DeviceRule[]) => containerDeviceRules(spec);

  it('with the default spec (deny all): mknod of anything, opening only the default devices', () => {
    const rules = defaults([{ allow: false, access: 'rwm' }]);
    expect(allowed(rules, { type: B, major: 8, minor: 0, access: M })).toBe(true);
    expect(allowed(rules, { type: B, major: 8, minor: 0, access: R })).toBe(false);
    expect(allowed(rules, { type: B, major: 8, minor: 0, access: R | W })).toBe(false);
    expect(allowed(rules, { type: C, major: 1, minor: 3, access: R | W })).toBe(true); // /dev/null
    expect(allowed(rules, { type: C, major: 136, minor: 9, access: R | W })).toBe(true); // a pty
    expect(allowed(rules, { type: C, major: 10, minor: 200, access: R | W })).toBe(true); // /dev/net/tun, as runc 1.1
    expect(allowed(rules, { type: C, major: 5, minor: 1, access: R | W })).toBe(false); // /dev/console, as runc 1.1
    expect(allowed(rules, { type: C, major: 10, minor: 229, access: R | W })).toBe(false); // /dev/fuse
    expect(allowed(rules, { type: B, major: 1, minor: 3, access: R })).toBe(false); // a block device 1:3 is not /dev/null
  });

  it('decides access by access: a later deny of write is not undone by an O_RDWR open', () => {
    const rules: DeviceRule[] = [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3 }, { allow: false, type: 'c', major: 1, minor: 3, access: 'w' }];
    expect(allowed(rules, { type: C, major: 1, minor: 3, access: R })).toBe(true);
    expect(allowed(rules, { type: C, major: 1, minor: 3, access: W })).toBe(false);
    expect(allowed(rules, { type: C, major: 1, minor: 3, access: R | W })).toBe(false);
    // and allows split over two rules add up
    const split: DeviceRule[] = [{ allow: false }, { allow: true, type: 'c', major: 1, minor: 3, access: 'r' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'w' }];
    expect(allowed(split, { type: C, major: 1, minor: 3, access: R | W })).toBe(true);
    expect(allowed(split, { type: C, major: 1, minor: 3, access: M })).toBe(false);
  });

  it('lets the last matching rule win: an allow-all list with a hole, and wildcards by major', () => {
    const rules: DeviceRule[] = [{ allow: true }, { allow: false, type: 'b', major: 8, access: 'rw' }, { allow: true, type: 'b', major: 8, minor: 1, access: 'r' }];
    expect(allowed(rules, { type: B, major: 8, minor: 0, access: R })).toBe(false);
    expect(allowed(rules, { type: B, major: 8, minor: 0, access: M })).toBe(true);
    expect(allowed(rules, { type: B, major: 8, minor: 1, access: R })).toBe(true);
    expect(allowed(rules, { type: B, major: 8, minor: 1, access: R | W })).toBe(false);
    expect(allowed(rules, { type: C, major: 8, minor: 0, access: R | W })).toBe(true);
  });

  it('agrees with the rules\' meaning for every request, for any rule list', () => {
    const number = fc.oneof(fc.constant(-1), fc.constantFrom(0, 1, 3, 5, 8, 136), fc.integer({ min: 0, max: 300 }));
    const rule: fc.Arbitrary<DeviceRule> = fc.record({
      allow: fc.boolean(), type: fc.constantFrom('a', 'b', 'c'), major: number, minor: number,
      access: fc.subarray(['r', 'w', 'm']).map((letters) => letters.join('')),
    });
    const request: fc.Arbitrary<Request> = fc.record({
      type: fc.constantFrom(B, C), major: fc.constantFrom(0, 1, 3, 5, 8, 136, 254), minor: fc.constantFrom(0, 1, 3, 5, 8, 9),
      access: fc.integer({ min: 1, max: 7 }),
    });
    fc.assert(fc.property(fc.array(rule, { maxLength: 8 }), fc.array(request, { minLength: 1, maxLength: 20 }), (rules, requests) => {
      const parsed = parseDeviceRules(rules);
      const program = deviceFilterProgram(parsed);
      expect(reachable(program).every(Boolean)).toBe(true);
      for (const r of [...requests, ...REQUESTS]) expect(run(program, r) === 1).toBe(deviceAllowed(parsed, r));
    }), { numRuns: 300 });
  });
});
