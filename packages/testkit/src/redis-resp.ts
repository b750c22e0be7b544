import { connect } from 'node:net';
import { LOOPBACK } from './ports.js';

/** A decoded RESP2 reply: simple strings and bulk strings as strings, nil as `null`, arrays as arrays. */
export type RespValue = string | number | null | RespValue[];

/**
 * A `-ERR …` reply from Redis, kept apart from transport errors so callers can tell them apart.
 * @example
 * await redis.command(['NOPE']).catch((e) => e instanceof RespError); // true
 */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/** Encodes one command as a RESP array of bulk strings. */
function encode(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `offset`; `undefined` when the buffer does not hold a whole reply yet. */
function parse(buf: Buffer, offset: number): { value: RespValue | RespError; next: number } | undefined {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString('utf8', offset + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next);
        if (item === undefined) return undefined;
        // An error nested in an array (EXEC) is returned as its message rather than thrown.
        items.push(item.value instanceof RespError ? item.value.message : item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Sends `commands` in order on one fresh connection to `127.0.0.1:port` (after `AUTH password` when given) and
 * resolves with the reply to the last one. For the kit's readiness checks and small test helpers; not a client.
 * @throws {RespError} when Redis answers any of the commands with an error reply.
 * @throws {Error} on a connection error (`code` kept, e.g. `ECONNREFUSED`) or after `timeoutMs`.
 * @example
 * await respRequest(6379, [['SET', 'k', 'v'], ['GET', 'k']], { password }); // 'v'
 */
export function respRequest(
  port: number,
  commands: readonly (readonly string[])[],
  options: { password?: string | undefined; timeoutMs?: number | undefined } = {},
): Promise<RespValue> {
  const all = options.password === undefined ? commands : [['AUTH', options.password], ...commands];
  const timeoutMs = options.timeoutMs ?? 2_000;
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOOPBACK);
    let buf = Buffer.alloc(0);
    let offset = 0;
    let replies = 0;
    const finish = (error: Error | undefined, value?: RespValue): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () => finish(new Error(`no reply from ${LOOPBACK}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    socket.setNoDelay(true);
    socket.once('error', (error) => finish(error));
    socket.once('close', () =>
      finish(new Error(`${LOOPBACK}:${port} closed the connection before replying`)),
    );
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        for (;;) {
          const reply = parse(buf, offset);
          if (reply === undefined) return;
          offset = reply.next;
          replies += 1;
          if (reply.value instanceof RespError) return finish(reply.value);
          if (replies === all.length) return finish(undefined, reply.value);
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.write(Buffer.concat(all.map(encode)));
  });
}
