/** "2s", "500ms", "1m" or a plain number of seconds, in seconds; `option` names the flag. */
export function parseDuration(option: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (match === null || Number(match[1]) <= 0) throw new Error(`${option}: "${value}" is not a duration (e.g. 2s, 500ms)`);
  const n = Number(match[1]);
  return match[2] === 'ms' ? n / 1000 : match[2] === 'm' ? n * 60 : n;
}
