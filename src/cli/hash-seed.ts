// The V8 hash seed that bin/runcell passes to node (--hash-seed), drawn once per install by the
// build (bundle.mjs writes it to dist/hash-seed, never to a committed file).
//
// Why: V8 as built by Node 20.20 derives its string-hash secrets from the hash seed at every
// start (HashSeed::InitializeRoots → rapidhash_make_secret, V8's
// third_party/rapidhash-v8/secret.h): a random search for three 64-bit primes whose time
// depends on the seed alone. A random seed costs ~2.3 ms of Miller-Rabin on average here (most
// seeds need 60-100 strong-probable-prime rounds), a "cheap" seed 0.9 ms: 36 rounds, the
// minimum, every candidate that reaches the primality test being prime. That is ~1.5 ms of
// every command, half of what the CLI adds to node's own start-up.
//
// Why not one fixed cheap seed: the hash seed is what stops a hostile config.json (its
// annotations are object keys, JSON.parse hashes them) from being built to collide in V8's
// hash tables (HashDoS). A seed published in our source would give every bundle's author the
// seed. One drawn at random per install, among the cheap seeds (~1 in 9000 of the 2^63 the
// build draws from, so still ~50 bits of choice), is as unknown to them as a per-process seed. It is no secret from
// the host's own users (it is on node's command line, in /proc/PID/cmdline), nor need it be:
// they can run the CLI on any file they like already.
//
// This module simulates rapidhash_make_secret exactly (BigInt), counting the rounds, so the
// build can draw until it finds a cheap seed; test/unit/hash-seed.test.ts checks it against a
// C copy of V8's code.
import { randomBytes } from 'node:crypto';

const MASK64 = (1n << 64n) - 1n;

/** The bytes with exactly four bits set, from which each secret's bytes are drawn (secret.h). */
const BALANCED_BYTES = [
  15, 23, 27, 29, 30, 39, 43, 45, 46, 51, 53, 54, 57, 58, 60, 71, 75, 77, 78, 83, 85, 86, 89, 90,
  92, 99, 101, 102, 105, 106, 108, 113, 114, 116, 120, 135, 139, 141, 142, 147, 149, 150, 153, 154,
  156, 163, 165, 166, 169, 170, 172, 177, 178, 180, 184, 195, 197, 198, 201, 202, 204, 209, 210,
  212, 216, 225, 226, 228, 232, 240,
].map(BigInt);

/** The Miller-Rabin bases of secret.h's is_prime, in its order. */
const BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n];

/** The fewest strong-probable-prime rounds any seed needs: three primes, 12 bases each. */
export const MIN_SPRP_ROUNDS = 3 * BASES.length;

/**
 * Seeds are drawn below 2^63: 19 decimal digits at most, which the launcher checks without a
 * fork (V8 refuses a value above 2^64 - 1, node then exits).
 */
export const SEED_LIMIT = 1n << 63n;

export interface Secrets {
  /** The three secrets V8 derives from the seed. */
  secrets: [bigint, bigint, bigint];
  /** How many times secret.h's sprp() runs: what the derivation costs. */
  sprpRounds: number;
}

function powMod(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  for (; exponent > 0n; exponent >>= 1n) {
    if (exponent & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return result;
}

function popcount(x: bigint): number {
  let count = 0;
  for (; x > 0n; x &= x - 1n) count++;
  return count;
}

/** V8's rapidhash_make_secret(seed), with the count of its Miller-Rabin rounds. */
export function makeSecrets(seed: bigint): Secrets {
  return derive(seed, false)!;
}

/**
 * Whether `seed` is cheap (MIN_SPRP_ROUNDS): no candidate that reaches the primality test may
 * be composite. Stops at the first one that is (most seeds: after one round).
 */
export function isCheapSeed(seed: bigint): boolean {
  return derive(seed, true) !== undefined;
}

function derive(seed: bigint, stopAtComposite: boolean): Secrets | undefined {
  let state = seed & MASK64;
  let sprpRounds = 0;
  // secret.h's wyrand: rapid_mix of the advanced state, the 128-bit product folded.
  const wyrand = (): bigint => {
    state = (state + 0x2d358dccaa6c78a5n) & MASK64;
    const product = state * (state ^ 0x8bb84b93962eacc9n);
    return (product & MASK64) ^ (product >> 64n);
  };
  // secret.h's sprp: the strong probable prime test of n to base a (exact modular arithmetic,
  // as its shift-and-add mul_mod is).
  const sprp = (n: bigint, a: bigint): boolean => {
    sprpRounds++;
    let d = n - 1n;
    let s = 0;
    while ((d & 1n) === 0n) {
      d >>= 1n;
      s++;
    }
    let b = powMod(a, d, n);
    if (b === 1n || b === n - 1n) return true;
    for (let r = 1; r < s; r++) {
      b = (b * b) % n;
      if (b <= 1n) return false;
      if (b === n - 1n) return true;
    }
    return false;
  };
  // secret.h's is_prime; n is odd and above 2^56 here, so its small-n shortcuts never apply.
  const isPrime = (n: bigint): boolean => BASES.every((a) => sprp(n, a));
  const secrets: bigint[] = [];
  for (let i = 0; i < 3; i++) {
    for (;;) {
      let candidate = 0n;
      for (let j = 0n; j < 64n; j += 8n) candidate |= BALANCED_BYTES[Number(wyrand() % BigInt(BALANCED_BYTES.length))] << j;
      if ((candidate & 1n) === 0n) continue;
      if (secrets.some((other) => popcount(other ^ candidate) !== 32)) continue;
      if (isPrime(candidate)) {
        secrets.push(candidate);
        break;
      }
      if (stopAtComposite) return undefined;
    }
  }
  return { secrets: secrets as Secrets['secrets'], sprpRounds };
}

/**
 * A random seed in [1, 2^63) whose secrets cost the minimum (MIN_SPRP_ROUNDS). `random` gives
 * 8 random bytes (crypto.randomBytes; a parameter for the tests).
 */
export function drawCheapSeed(random: (size: number) => Buffer = randomBytes): bigint {
  for (;;) {
    const seed = random(8).readBigUInt64LE() % SEED_LIMIT;
    if (seed !== 0n && isCheapSeed(seed)) return seed;
  }
}
