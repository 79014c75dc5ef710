// Argument checks with Node core's error codes (ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE), so a
// wrong argument fails in JavaScript with a clear message instead of reaching the addon.

export class ArgumentError extends TypeError {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}
Object.defineProperty(ArgumentError.prototype, 'name', { value: 'TypeError', enumerable: false });

export function validateInteger(value: unknown, name: string, min = -(2 ** 31), max = 2 ** 31 - 1): number {
  if (typeof value !== 'number') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. Received ${describeValue(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = `>= ${min} && <= ${max}`;
    const error = new RangeError(`The value of "${name}" is out of range. It must be an integer ${range}. Received ${value}`);
    (error as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
    throw error;
  }
  return value;
}

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `type string ('${value}')`;
  if (typeof value === 'object') return 'an instance of ' + ((value as object).constructor?.name ?? 'Object');
  return `type ${typeof value} (${String(value)})`;
}
