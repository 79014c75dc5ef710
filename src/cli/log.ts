// The CLI's log: --log FILE (appended, as runc opens it) or stderr, in runc's two formats.
// containerd's shim and podman read the last `"level":"error"` JSON line of the log file to
// report why a command failed, so every error goes there too, even one found while parsing
// the command line.
import * as fs from 'node:fs';
import type { Logger } from '../log';
import { writeErr } from './output';

export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];
type Level = 'debug' | 'warning' | 'error';

export interface CliLogOptions {
  file?: string;
  format: LogFormat;
  debug: boolean;
}

export class CliLog implements Logger {
  private fd = -1;

  constructor(private readonly options: CliLogOptions) {}

  debug(message: string): void {
    if (this.options.debug) this.write('debug', message);
  }

  warn(message: string): void {
    this.write('warning', message);
  }

  /** A failure: one line on stderr, and a line in the log file when there is one. */
  error(message: string): void {
    writeErr(`runcell: ${message}\n`);
    if (this.options.file !== undefined) this.write('error', message);
  }

  close(): void {
    if (this.fd !== -1) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private write(level: Level, message: string): void {
    const time = new Date().toISOString();
    const line = this.options.format === 'json'
      ? JSON.stringify({ level, msg: message, time })
      : `time="${time}" level=${level} msg=${JSON.stringify(message)}`;
    if (this.options.file === undefined) {
      writeErr(line + '\n');
      return;
    }
    if (this.fd === -1) this.fd = fs.openSync(this.options.file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o644);
    fs.writeSync(this.fd, line + '\n');
  }
}
