// OCI hooks (config.md, "POSIX-platform Hooks"): programs the runtime runs at points of the
// lifecycle, each given the container's state on stdin. Where each kind runs, and what a
// failure does, is the spec's:
//   prestart, createRuntime: during create, in the runtime namespace, before pivot_root (the
//     init waits for them at its hooks step) -- a failure destroys the container;
//   createContainer: the same moment, in the container's namespaces (run by the init);
//   startContainer: during start, in the container, before the process runs (run by it);
//   poststart: after the process started -- a failure is a warning;
//   poststop: after delete -- a failure is a warning.
import { spawn } from 'node:child_process';
import { log } from '../log';
import type { OciState } from './record';

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** Every kind of the spec, in lifecycle order; each runs where the comment above says. */
export const HOOK_KINDS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

export type HookKind = typeof HOOK_KINDS[number];

export function hooksOf(hooks: Record<string, unknown> | undefined, kind: HookKind): Hook[] {
  const list = hooks?.[kind];
  return Array.isArray(list) ? (list as Hook[]) : [];
}

/** The interpreter's form of a hook, run inside the container (i-hook, u-hook). */
export function hookArgs(hook: Hook): string[] {
  const args = hook.args ?? [hook.path];
  const env = hook.env ?? [];
  return [String(hook.timeout ?? 0), hook.path, String(args.length), ...args, String(env.length), ...env];
}

// The init and the gofer pass the state to the hooks they run through 64 KiB buffers (with a
// word of framing, "continue " or "go ").
export const NATIVE_HOOK_STATE_LIMIT = 65536 - 16;

/**
 * The state as the hooks run by the init or the user's process get it: refused, rather than
 * cut, when it is larger than the native side takes (large annotations).
 */
export function nativeHookState(kind: HookKind, state: OciState): string {
  const text = JSON.stringify(state);
  const size = Buffer.byteLength(text);
  if (size > NATIVE_HOOK_STATE_LIMIT) {
    throw new Error(`the state for the ${kind} hooks is ${size} bytes, more than the ${NATIVE_HOOK_STATE_LIMIT} runcell passes into a container (large annotations?)`);
  }
  return text;
}

/** Runs hooks of one kind in order, in this (the runtime's) namespace; throws at the first failure. */
export async function runHooks(kind: HookKind, hooks: Hook[], state: OciState): Promise<void> {
  for (const hook of hooks) await runHook(kind, hook, state);
}

/** The same, where the spec says a failure only warns (poststart, poststop). */
export async function runHooksWarning(kind: HookKind, hooks: Hook[], state: OciState): Promise<void> {
  for (const hook of hooks) {
    try {
      await runHook(kind, hook, state);
    } catch (error) {
      log.warn((error as Error).message);
    }
  }
}

function runHook(kind: HookKind, hook: Hook, state: OciState): Promise<void> {
  return new Promise((resolve, reject) => {
    const [argv0, ...rest] = hook.args ?? [hook.path];
    const child = spawn(hook.path, rest, {
      argv0,
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'inherit', 'inherit'],
    });
    let timer: NodeJS.Timeout | undefined;
    if (hook.timeout !== undefined && hook.timeout > 0) {
      timer = setTimeout(() => child.kill('SIGKILL'), hook.timeout * 1000);
    }
    child.stdin!.on('error', () => {}); // a hook that does not read its state is fine
    child.stdin!.end(JSON.stringify(state));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${kind} hook "${hook.path}": ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve();
      const why = signal === 'SIGKILL' && hook.timeout ? `timed out after ${hook.timeout} s` : signal ? `killed by ${signal}` : `exited with status ${code}`;
      reject(new Error(`${kind} hook "${hook.path}" ${why}`));
    });
  });
}
