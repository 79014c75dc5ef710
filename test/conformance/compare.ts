// Normalising and comparing two probe reports (native/probe/probe.c), field by field.
//
// What legitimately differs from one run to the next is rewritten into something that
// identifies the same thing in both runs:
//   - mount ids and parent ids        -> the parent's label ("/dev#0": mount point, occurrence)
//   - anonymous device numbers (0:N)  -> "anon:" + label of the first mount showing that device
//   - peer group numbers              -> "shared:" / "master:" + label of the first mount of that
//                                        peer group ("external#k" for a group outside the view)
//   - the per-runtime directory and the container id in any string -> "<dir>", "<id>"
// Everything else is compared as is.

/** One line of /proc/self/mountinfo as the probe reports it. */
export interface ProbeMount {
  id: number;
  parent: number;
  dev: string;
  root: string;
  mountPoint: string;
  options: string;
  propagation: string[];
  fsType: string;
  source: string;
  superOptions: string;
  unparsed?: string;
}

/** The probe's JSON (version 1); areas are open-ended so that the probe can grow. */
export interface ProbeReport {
  probe: number;
  mounts: ProbeMount[] | { error: string };
  [area: string]: unknown;
}

export interface Difference {
  /** Which field: `mounts[/proc#0].options`, `status.CapEff`, `dev[null].mode`, `outcome`, ... */
  field: string;
  runc: string;
  runcell: string;
  /** What the two values say, where that is not plain to see (which mounts moved). */
  note?: string;
}

/** What is replaced in every string of one run's report. */
export interface RunContext {
  /** The per-runtime directory holding the bundle and host-side sources. */
  dir: string;
  containerId: string;
}

/** The value of a field that is absent on one side. */
export const ABSENT = '(absent)';

export function compareReports(runc: ProbeReport, runcell: ProbeReport, runcContext: RunContext, runcellContext: RunContext): Difference[] {
  const a = flattenReport(scrub(runc, runcContext) as ProbeReport);
  const b = flattenReport(scrub(runcell, runcellContext) as ProbeReport);
  const differences: Difference[] = [];
  // A thing present on one side only (a mount, a /dev entry, a path) is one difference, not
  // one per field of it.
  const entitiesA = entities(a);
  const entitiesB = entities(b);
  const reported = new Set<string>();
  for (const field of unionOfKeys(a, b)) {
    const entity = entityOf(field);
    if (entity !== undefined && entitiesA.has(entity) !== entitiesB.has(entity)) {
      if (!reported.has(entity)) {
        reported.add(entity);
        differences.push({ field: entity, runc: summary(a, entity), runcell: summary(b, entity) });
      }
      continue;
    }
    const left = a.get(field) ?? ABSENT;
    const right = b.get(field) ?? ABSENT;
    if (left === right) continue;
    differences.push(field === 'mounts.order' ? { field, runc: left, runcell: right, note: orderNote(left, right) } : { field, runc: left, runcell: right });
  }
  return differences;
}

// Which mounts runcell has elsewhere than runc: those outside a longest common subsequence
// of the two orders (mounts on one side only are reported on their own).
function orderNote(runc: string, runcell: string): string {
  const a = runc.split(' ');
  const b = runcell.split(' ');
  const common = new Set(longestCommonSubsequence(a.filter((x) => b.includes(x)), b.filter((x) => a.includes(x))));
  const moved = b.filter((x) => a.includes(x) && !common.has(x));
  return moved.length === 0 ? 'the same order apart from mounts on one side only' : `out of runc's order in runcell: ${moved.join(' ')}`;
}

function longestCommonSubsequence(a: string[], b: string[]): string[] {
  const table = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    }
  }
  const out: string[] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    if (a[i] === b[j]) {
      out.push(a[i]);
      i++;
      j++;
    } else if (table[i + 1][j] >= table[i][j + 1]) {
      i++;
    } else {
      j++;
    }
  }
  return out;
}

/** `mounts[/proc#0]` of `mounts[/proc#0].options`; undefined for a field of no entity. */
function entityOf(field: string): string | undefined {
  const match = /^[^[.]+\[[^\]]*\]/.exec(field);
  return match === null ? undefined : match[0];
}

function entities(fields: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const field of fields.keys()) {
    const entity = entityOf(field);
    if (entity !== undefined) out.add(entity);
  }
  return out;
}

// One side's fields of an entity, as `type="l" target="/proc/kcore"`, or ABSENT.
function summary(fields: Map<string, string>, entity: string): string {
  const parts: string[] = [];
  for (const [field, value] of fields) {
    if (field.startsWith(entity)) parts.push(`${field.slice(entity.length + 1) || 'value'}=${value}`);
  }
  return parts.length === 0 ? ABSENT : parts.join(' ');
}

/** The report as field -> value, with mounts normalised. Exported for the harness's own tests. */
export function flattenReport(report: ProbeReport): Map<string, string> {
  const out = new Map<string, string>();
  for (const [area, value] of Object.entries(report)) {
    if (area === 'mounts') flattenMounts(value as ProbeReport['mounts'], out);
    else flatten(value, area, out);
  }
  return out;
}

function flattenMounts(mounts: ProbeReport['mounts'], out: Map<string, string>): void {
  if (!Array.isArray(mounts)) {
    out.set('mounts', `error: ${mounts.error}`);
    return;
  }
  const normalised = normaliseMounts(mounts);
  // The order is one field of its own, so that a reordering is one difference, not one per
  // mount; each mount is then compared with the one of the same label on the other side.
  out.set('mounts.order', normalised.map((m) => m.label).join(' '));
  for (const m of normalised) {
    for (const field of ['fsType', 'source', 'root', 'options', 'superOptions', 'propagation', 'parent', 'dev'] as const) {
      out.set(`mounts[${m.label}].${field}`, m[field]);
    }
  }
}

export interface NormalisedMount {
  label: string;
  fsType: string;
  source: string;
  root: string;
  options: string;
  superOptions: string;
  propagation: string;
  parent: string;
  dev: string;
}

export function normaliseMounts(mounts: ProbeMount[]): NormalisedMount[] {
  const occurrences = new Map<string, number>();
  const labels = mounts.map((m) => {
    const point = m.unparsed !== undefined ? `unparsed:${m.unparsed}` : m.mountPoint;
    const k = occurrences.get(point) ?? 0;
    occurrences.set(point, k + 1);
    return `${point}#${k}`;
  });
  const byId = new Map(mounts.map((m, i) => [m.id, labels[i]]));
  const anonDevs = new Map<string, string>();
  mounts.forEach((m, i) => {
    if (m.dev?.startsWith('0:') && !anonDevs.has(m.dev)) anonDevs.set(m.dev, `anon:${labels[i]}`);
  });
  // Peer groups: named by the first mount that is a member (shared:N); a group only seen as a
  // master (its members are outside the container's view) by its order of appearance.
  const groups = new Map<string, string>();
  mounts.forEach((m, i) => {
    for (const tag of m.propagation ?? []) {
      const [kind, n] = tag.split(':');
      if (kind === 'shared' && !groups.has(n)) groups.set(n, labels[i]);
    }
  });
  let external = 0;
  const group = (n: string) => {
    if (!groups.has(n)) groups.set(n, `external#${external++}`);
    return groups.get(n)!;
  };
  return mounts.map((m, i) => ({
    label: labels[i],
    fsType: m.fsType ?? '',
    source: m.source ?? '',
    root: m.root ?? '',
    options: m.options ?? '',
    superOptions: m.superOptions ?? '',
    propagation: (m.propagation ?? []).map((tag) => {
      const [kind, n] = tag.split(':');
      return n === undefined ? tag : `${kind}:${group(n)}`;
    }).join(' '),
    parent: byId.get(m.parent) ?? 'outside',
    dev: anonDevs.get(m.dev) ?? m.dev,
  }));
}

// Generic flattening: objects by key, `{error}` and arrays of scalars as one value, arrays of
// objects with a `name` by that name, environment strings by variable.
function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value === null || typeof value !== 'object') {
    out.set(prefix, JSON.stringify(value));
    return;
  }
  if (isError(value)) {
    out.set(prefix, `error: ${value.error}`);
    return;
  }
  if (Array.isArray(value)) {
    if (prefix === 'env') {
      for (const item of value) {
        const text = String(item);
        const eq = text.indexOf('=');
        const name = eq < 0 ? text : text.slice(0, eq);
        out.set(`env[${name}]`, JSON.stringify(eq < 0 ? null : text.slice(eq + 1)));
      }
      return;
    }
    const named = (item: unknown): item is { name: string } =>
      item !== null && typeof item === 'object' && !Array.isArray(item) && typeof (item as { name?: unknown }).name === 'string';
    if (value.some(named)) {
      value.forEach((item, i) => {
        if (!named(item)) {
          // A list the probe cut short ends with "...": kept visible by position.
          out.set(`${prefix}[#${i}]`, JSON.stringify(item));
          return;
        }
        const { name, ...rest } = item;
        flatten(rest, `${prefix}[${name}]`, out);
      });
      return;
    }
    out.set(prefix, JSON.stringify(value));
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) {
    out.set(prefix, '{}');
    return;
  }
  // Paths as keys read best in brackets: masked[/proc/kcore].read.
  const bracketed = prefix === 'masked' || prefix === 'readonly' || prefix === 'paths';
  for (const [key, item] of entries) flatten(item, bracketed ? `${prefix}[${key}]` : `${prefix}.${key}`, out);
}

function isError(value: object): value is { error: string } {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'error';
}

/** Replaces the run's directory and container id in every string of the report. */
export function scrub(value: unknown, context: RunContext): unknown {
  if (typeof value === 'string') return value.split(context.dir).join('<dir>').split(context.containerId).join('<id>');
  if (Array.isArray(value)) return value.map((item) => scrub(item, context));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrub(k, context) as string, scrub(v, context)]));
  }
  return value;
}

function unionOfKeys(a: Map<string, string>, b: Map<string, string>): string[] {
  const keys = [...a.keys()];
  for (const key of b.keys()) if (!a.has(key)) keys.push(key);
  return keys;
}

/** One line per difference: `field: runc=... runcell=...`. */
export function formatDifferences(differences: readonly Difference[]): string {
  return differences.map((d) => `  ${d.field}:\n    runc:    ${d.runc}\n    runcell: ${d.runcell}${d.note ? `\n    (${d.note})` : ''}`).join('\n');
}
