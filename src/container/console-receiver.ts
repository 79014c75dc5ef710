// The console socket of a foreground run or exec of a terminal process, our own. As runc does
// in the foreground, the process gets a new terminal of the container's devpts and the caller
// copies between its stdio and the master (cli/terminal.ts). It never gets the caller's own
// terminal: `tty` cannot name that one inside the container, and a process there holding
// CAP_SYS_ADMIN could fill its input (TIOCSTI) for the host's shell to read after the run.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '../sys/native';

export class ConsoleReceiver {
  private dir: string | undefined;
  private listening = -1;

  /** The socket's path, made (in a directory of this user's alone) when first asked for. */
  get path(): string {
    if (this.dir === undefined) {
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runcell-console-'));
      this.listening = native.listenUnix(path.join(this.dir, 'socket'));
    }
    return path.join(this.dir, 'socket');
  }

  /** Whether a terminal was asked for (the path was handed out). */
  get used(): boolean {
    return this.dir !== undefined;
  }

  /**
   * The terminal's master, which the container's gofer (or exec's init) sent before it
   * reported ready: its connection is waiting, and the message follows on it.
   */
  receiveMaster(): number {
    const connection = native.acceptConnection(this.listening);
    try {
      const { fd } = native.recvWithFd(connection, Buffer.alloc(256));
      if (fd < 0) throw new Error(`no terminal came through the console socket '${this.path}'`);
      return fd;
    } finally {
      fs.closeSync(connection);
    }
  }

  close(): void {
    if (this.listening >= 0) fs.closeSync(this.listening);
    this.listening = -1;
    if (this.dir !== undefined) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
