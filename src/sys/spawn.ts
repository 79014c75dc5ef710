// Pipes and a plain spawn through the addon, for runcell-init's processes: node:child_process
// costs ~5 ms to load in every `create`, and its fork of the whole Node process blocks the event
// loop ~1.5 ms per container (a library running containers side by side waits on it).
import { native } from './native';
import { validateInteger } from './validate';

/** pipe2(O_CLOEXEC): [read end, write end]; an end given to a child stays blocking. */
export function pipe(options: { nonBlockingRead?: boolean; nonBlockingWrite?: boolean } = {}): [number, number] {
  return native.pipe(options.nonBlockingRead === true, options.nonBlockingWrite === true);
}

/**
 * Starts `file` with `argv` (argv[0] first) and an empty environment, its descriptor i being
 * our `fds[i]` (taken when this returns: the caller may close its own then; every other
 * descriptor of ours is close-on-exec), every signal at its default and none blocked. The
 * clone and exec run off the event loop. Resolves to the child's pid; rejects with ErrnoError
 * from posix_spawn (ENOENT, EACCES, ...) when it could not be executed. The caller reaps it.
 */
export function spawnProcess(file: string, argv: readonly string[], fds: readonly number[]): Promise<number> {
  try {
    fds.forEach((fd, i) => validateInteger(fd, `fds[${i}]`, 0));
    return native.spawn(file, [...argv], [...fds]);
  } catch (error) {
    return Promise.reject(error);
  }
}
