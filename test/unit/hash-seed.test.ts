// The simulation of V8's rapidhash_make_secret (src/cli/hash-seed.ts) against a C copy of
// V8's third_party/rapidhash-v8/secret.h, and the drawing of a cheap seed.
import { describe, expect, it } from 'vitest';
import { drawCheapSeed, isCheapSeed, makeSecrets, MIN_SPRP_ROUNDS, SEED_LIMIT } from '../../src/cli/hash-seed';

// Printed by the C copy of secret.h's rapidhash_make_secret (compiled with gcc -O2), counting
// the calls of its sprp(): seed → [sprp calls, secret 0, 1, 2].
const FROM_C: Array<[bigint, number, bigint, bigint, bigint]> = [
  [1n, 91, 0x0ff09999359563a5n, 0x2d6c35b48de81b2bn, 0xd2ca93c527b49c2bn],
  [2n, 63, 0x74b48b33d8556339n, 0xe2c93a631b9a1b1dn, 0xb22bd1d85a743a27n],
  [1672n, 36, 0xb217acf0b2d42e39n, 0x87477278a94da5c3n, 0x9a4e1755556a2bb1n],
  [12345n, 93, 0xe12bc6d12bb2e8a9n, 0xa9e46c9cca9c3c93n, 0x171dd4d447ac9387n],
  [4242424242n, 103, 0xd81dd82d27a687c5n, 0x9327696ac9f09363n, 0xe8d80f1ba9d18e71n],
  [9223372036854775807n, 85, 0x7272ca333ccc6993n, 0x47b42b474d66c327n, 0xe48baa8d33d4cc63n],
  [18446744073709551615n, 69, 0x550fc6c5d4aa6a95n, 0xd16ce139c6e1b44dn, 0xb239d83c653c4ec5n],
  [3437232457253320774n, 36, 0x3c4e8e35699a2b27n, 0x4dace43c36784dc3n, 0x71693ac987a94b87n],
  [8265152175991578540n, 36, 0x530f966ad22d2da9n, 0x2ea6931bb13cc335n, 0xa59c1e934e8ec999n],
];

/** 8 bytes, little-endian, as crypto.randomBytes(8) would give `value`. */
const bytesOf = (value: bigint) => {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(value);
  return buffer;
};

describe('hash seed', () => {
  it.each(FROM_C)('seed %d: the secrets and the sprp count of V8\'s code', (seed, rounds, ...secrets) => {
    expect(makeSecrets(seed)).toEqual({ secrets, sprpRounds: rounds });
    expect(isCheapSeed(seed)).toBe(rounds === MIN_SPRP_ROUNDS);
  });

  it('draws the first cheap seed of its random source, below 2^63, never 0', () => {
    const values = [0n, 1n, 2n, 12345n, 1672n + SEED_LIMIT, 3437232457253320774n];
    const random = (size: number) => {
      expect(size).toBe(8);
      return bytesOf(values.shift()!);
    };
    // 0 (V8's "random"), then three dear seeds, then 1672 with bit 63 set: 1672.
    expect(drawCheapSeed(random)).toBe(1672n);
    expect(values).toEqual([3437232457253320774n]);
  });

  it('two draws from the system\'s randomness give two different cheap seeds', () => {
    const seeds = [drawCheapSeed(), drawCheapSeed()];
    for (const seed of seeds) {
      expect(seed > 0n && seed < SEED_LIMIT).toBe(true);
      expect(makeSecrets(seed).sprpRounds).toBe(MIN_SPRP_ROUNDS);
    }
    expect(seeds[0]).not.toBe(seeds[1]);
  });
});
