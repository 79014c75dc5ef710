// Percentiles over every operation's latency, merged across workers.

/** The value below which `p` (0..1) of the sorted samples lie (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank];
}

export function mergeSorted(parts: readonly Float64Array[]): Float64Array {
  const merged = new Float64Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    merged.set(part, offset);
    offset += part.length;
  }
  return merged.sort();
}

/** Fewest operations of a worker over the most (1 when all did the same). */
export function fairness(opsPerWorker: readonly number[]): number {
  const max = Math.max(...opsPerWorker);
  return max === 0 ? 0 : Math.min(...opsPerWorker) / max;
}

/** A growable array of doubles, cheap to append to in a hot loop. */
export class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, 0, this.length * 8);
  }
}
