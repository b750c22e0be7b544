/**
 * Credentials never leave @ballast/redis: URLs are shown without their password, and an error that carries a
 * secret (in its message, its stack, or in ioredis' `command.args` of an `AUTH` / `HELLO … AUTH`) is replaced by
 * a copy without it before it reaches an event or a caller.
 */

const REDACTED = '***';

/** Commands whose arguments hold credentials. */
const AUTH_COMMANDS: ReadonlySet<string> = new Set(['auth', 'hello', 'migrate']);

/**
 * `url` without its password: `redis://user@host:6379/0`. Text that is not a URL keeps only what follows its
 * last `@`.
 * @example redactUrl('redis://:s3cret@127.0.0.1:6379') // 'redis://127.0.0.1:6379'
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString().replace(/^(\w+:\/\/)@/, '$1');
  } catch {
    const at = url.lastIndexOf('@');
    return at < 0 ? url : `${REDACTED}@${url.slice(at + 1)}`;
  }
}

/** `host:port` of a Redis URL, for names in events and errors (`'127.0.0.1:6379'`). */
export function addressOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return redactUrl(url);
  }
}

/** The password of a Redis URL (raw and percent-decoded), if it has one. */
export function urlSecrets(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    const { password } = new URL(url);
    if (password === '') return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // A malformed escape: the raw form is all there is.
    }
    return decoded === password ? [password] : [password, decoded];
  } catch {
    return [];
  }
}

/**
 * The secrets to mask, longest first (so a secret containing another is masked whole), without empty ones or
 * duplicates.
 */
export function secretList(...secrets: readonly unknown[]): readonly string[] {
  const set = new Set<string>();
  for (const s of secrets) if (typeof s === 'string' && s.length > 0) set.add(s);
  return [...set].sort((a, b) => b.length - a.length);
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

function leaks(text: unknown, secrets: readonly string[]): boolean {
  return typeof text === 'string' && secrets.some((s) => text.includes(s));
}

/**
 * `error` itself when it carries no secret; otherwise a copy (same name and class-less `Error`) with the secrets
 * masked in its message and stack, `code`, `errno`, `syscall`, `address` and `port` kept, and the arguments of
 * an authentication command dropped. The original is not kept as `cause`, since it holds the secret.
 */
export function redactError(error: unknown, secrets: readonly string[]): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  const command = (e as { command?: { name?: unknown; args?: unknown } }).command;
  const authArgs = typeof command?.name === 'string' && AUTH_COMMANDS.has(command.name.toLowerCase());
  if (!authArgs && !leaks(e.message, secrets) && !leaks(e.stack, secrets)) return e;
  const copy = new Error(scrub(e.message, secrets));
  copy.name = e.name;
  copy.stack = scrub(e.stack ?? '', secrets);
  const from = e as unknown as Record<string, unknown>;
  const to = copy as unknown as Record<string, unknown>;
  for (const key of ['code', 'errno', 'syscall', 'address', 'port']) {
    const v = from[key];
    if (typeof v === 'string') to[key] = scrub(v, secrets);
    else if (typeof v === 'number') to[key] = v;
  }
  if (command !== undefined) {
    const args = Array.isArray(command.args) ? command.args : [];
    to.command = {
      name: command.name,
      args: authArgs ? [REDACTED] : args.map((a: unknown) => (typeof a === 'string' ? scrub(a, secrets) : a)),
    };
  }
  return copy;
}
