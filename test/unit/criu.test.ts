// CRIU's RPC messages as runcell encodes and decodes them (src/container/criu.ts), the CRIU
// version a kernel needs, and the checkpoint description's checks (checkpoint-image.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeMessage, decodeResponse, encodeMessage, requiredCriuVersion } from '../../src/container/criu';
import { parseMountInfo, readDescription } from '../../src/container/checkpoint-image';

describe('protobuf wire format', () => {
  it('encodes varints, booleans, strings and nested messages with their field numbers', () => {
    // field 1 varint 150: 08 96 01 (the protobuf documentation's example)
    expect(encodeMessage([[1, 150]])).toEqual(Buffer.from([0x08, 0x96, 0x01]));
    // field 2 string "testing": 12 07 74 65 73 74 69 6e 67
    expect(encodeMessage([[2, 'testing']])).toEqual(Buffer.from('120774657374696e67', 'hex'));
    expect(encodeMessage([[3, true], [4, false], [5, undefined]])).toEqual(Buffer.from([0x18, 0x01, 0x20, 0x00]));
    // A negative int32 is ten bytes of two's complement.
    expect(encodeMessage([[1, -1]])).toEqual(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    const nested = encodeMessage([[27, encodeMessage([[1, 'pipe:[42]'], [2, 1]])]]);
    const decoded = decodeMessage(nested);
    expect(decodeMessage(decoded.get(27)![0] as Buffer)).toEqual(new Map<number, Array<bigint | Buffer>>([[1, [Buffer.from('pipe:[42]')]], [2, [1n]]]));
  });

  it('decodes criu_resp: type, success, the restored pid, a notification, the version, an error', () => {
    const restore = decodeResponse(encodeMessage([[1, 2], [2, true], [4, encodeMessage([[1, 4321]])]]));
    expect(restore).toMatchObject({ type: 2, success: true, restoredPid: 4321 });
    const notify = decodeResponse(encodeMessage([[1, 6], [2, true], [5, encodeMessage([[1, 'post-restore'], [2, 99]])]]));
    expect(notify.notify).toEqual({ script: 'post-restore', pid: 99 });
    const version = decodeResponse(encodeMessage([[1, 10], [2, true], [10, encodeMessage([[1, 4], [2, 1], [4, 1]])]]));
    expect(version.version).toEqual({ major: 4, minor: 1, sublevel: 1 });
    const failed = decodeResponse(encodeMessage([[1, 1], [2, false], [7, -1], [9, 'Dumping FAILED']]));
    expect(failed).toMatchObject({ type: 1, success: false, errno: -1, errmsg: 'Dumping FAILED' });
  });

  it('refuses what is not a message', () => {
    expect(() => decodeMessage(Buffer.from([0x08]))).toThrow(/truncated varint/);
    expect(() => decodeMessage(Buffer.from([0x12, 0x05, 0x41]))).toThrow(/truncated field/);
    expect(() => decodeResponse(Buffer.from([0x10, 0x01]))).toThrow(/without a type/);
    expect(() => decodeMessage(Buffer.from([0x0b]))).toThrow(/wire type 3/);
  });
});

describe('the CRIU a kernel needs', () => {
  it('is 4.1 from Linux 6.13 on ([vvar] split), 3.17 before', () => {
    expect(requiredCriuVersion('6.18.44-fc-v1252')).toMatchObject({ major: 4, minor: 1 });
    expect(requiredCriuVersion('6.13.0')).toMatchObject({ major: 4, minor: 1 });
    expect(requiredCriuVersion('7.0.1')).toMatchObject({ major: 4, minor: 1 });
    expect(requiredCriuVersion('6.1.0-28-amd64')).toMatchObject({ major: 3, minor: 17 });
    expect(requiredCriuVersion('5.10.0')).toMatchObject({ major: 3, minor: 17 });
  });
});

describe('checkpoint description', () => {
  it('parses mountinfo with its escapes and super options', () => {
    const [mount] = parseMountInfo('76 75 0:29 /runcell/c\\0401 /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup rw,cpu\n');
    expect(mount).toEqual({ id: 76, dev: '0:29', root: '/runcell/c 1', mountPoint: '/sys/fs/cgroup/cpu', fsType: 'cgroup', superOptions: ['rw', 'cpu'] });
  });

  it('reads a good runcell.json and refuses a damaged or hostile one by field', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-criu-'));
    try {
      const write = (value: unknown) => fs.writeFileSync(path.join(dir, 'runcell.json'), JSON.stringify(value));
      const good = {
        version: 1, container: 'c', stdio: ['file[18:3]', 'pipe:[7]', null], externalNetwork: false,
        mounts: [{ destination: '/out', kind: 'bind' }, { destination: '/sys/fs/cgroup/cpu', kind: 'cgroup', hierarchy: '/sys/fs/cgroup/cpu', cgroupPath: '/runcell/c' }],
      };
      write(good);
      expect(readDescription(dir)).toEqual(good);
      write({ ...good, version: 2 });
      expect(() => readDescription(dir)).toThrow(/not a checkpoint description of version 1/);
      write({ ...good, stdio: ['/etc/shadow', null, null] });
      expect(() => readDescription(dir)).toThrow(/"stdio" is not three descriptor keys/);
      write({ ...good, mounts: [{ destination: 'relative', kind: 'bind' }] });
      expect(() => readDescription(dir)).toThrow(/"mounts" is not a list of external mounts/);
      write({ ...good, mounts: [{ destination: '/x', kind: 'cgroup', hierarchy: 'sys' }] });
      expect(() => readDescription(dir)).toThrow(/"mounts"/);
      write({ ...good, terminal: true });
      expect(readDescription(dir)).toEqual({ ...good, terminal: true });
      write({ ...good, terminal: 'yes' });
      expect(() => readDescription(dir)).toThrow(/"terminal" is not a boolean/);
      fs.rmSync(path.join(dir, 'runcell.json'));
      expect(() => readDescription(dir)).toThrow(/not a runcell checkpoint \(no runcell\.json\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
