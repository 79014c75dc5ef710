/** Where container state lives unless --root says otherwise (should be a tmpfs). */
export const DEFAULT_ROOT = '/run/runcell';
