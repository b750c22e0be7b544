/**
 * Credential masking for everything @ballast/pg puts in an error message or an event: connection strings lose
 * their password, and known secrets are replaced wherever they appear in free text.
 */

/** What a masked secret is replaced with. */
export const MASK = '***';

const SECRET_PARAMS = new Set(['password', 'sslpassword']);

/**
 * The connection URL without its password (`postgres://user@host:5432/db`): the userinfo password and any
 * `password` / `sslpassword` query parameter are dropped. Text that does not parse as a URL has whatever
 * follows `user:` up to the last `@` before the host replaced with `***` instead.
 * @example maskUrl('postgres://app:s3cret@db:5432/app') // 'postgres://app@db:5432/app'
 * @throws never
 */
export function maskUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(/(\/\/[^:/?#@]*):[^/?#]*@/, `$1:${MASK}@`);
  }
  parsed.password = '';
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.has(key.toLowerCase())) parsed.searchParams.delete(key);
  }
  return parsed.toString();
}

/**
 * `text` with every occurrence of each secret (and of its URL-encoded form) replaced by `***`. Empty secrets are
 * ignored.
 * @example maskSecrets('auth failed for s3cret', ['s3cret']) // 'auth failed for ***'
 * @throws never
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    out = out.split(secret).join(MASK);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(MASK);
  }
  return out;
}

/**
 * The secrets of a pg connection: the password of the connection string and of the config, decoded and raw.
 * @throws never
 */
export function secretsOf(connectionString: string | undefined, password: unknown): string[] {
  const secrets: string[] = [];
  if (typeof password === 'string' && password.length > 0) secrets.push(password);
  if (connectionString !== undefined) {
    try {
      const u = new URL(connectionString);
      if (u.password !== '') {
        secrets.push(u.password);
        try {
          secrets.push(decodeURIComponent(u.password));
        } catch {
          // A malformed escape: the raw form is masked already.
        }
      }
      for (const [key, value] of u.searchParams) {
        if (SECRET_PARAMS.has(key.toLowerCase()) && value !== '') secrets.push(value);
      }
    } catch {
      const m = /\/\/[^:/?#@]*:([^/?#]*)@/.exec(connectionString);
      if (m?.[1]) secrets.push(m[1]);
    }
  }
  // Longest first, so a secret that contains another is masked whole.
  return [...new Set(secrets)].sort((a, b) => b.length - a.length);
}

/**
 * `error` itself when neither its message nor its stack contains a secret (pg's errors are passed on unchanged);
 * otherwise a new Error of the same name with the secrets masked in message and stack and the string fields
 * `code`, `errno`, `syscall`, `address`, `port` and `severity` copied. The original is not kept as `cause`, since
 * it carries the secret.
 * @throws never
 */
export function maskError(error: unknown, secrets: readonly string[]): Error {
  const e = error instanceof Error ? error : new Error(String(error));
  if (secrets.length === 0) return e;
  const message = maskSecrets(e.message, secrets);
  const stack = e.stack === undefined ? undefined : maskSecrets(e.stack, secrets);
  if (message === e.message && stack === e.stack) return e;
  const masked = new Error(message);
  masked.name = e.name;
  if (stack !== undefined) masked.stack = stack;
  const src = e as unknown as Record<string, unknown>;
  const dst = masked as unknown as Record<string, unknown>;
  for (const key of ['code', 'errno', 'syscall', 'address', 'port', 'severity']) {
    const v = src[key];
    if (typeof v === 'string' || typeof v === 'number')
      dst[key] = typeof v === 'string' ? maskSecrets(v, secrets) : v;
  }
  return masked;
}
