import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError } from './errors.js';

/** Largest request body accepted. */
const MAX_BODY_BYTES = 64 * 1024;

/** An answer: a JSON body (or text, for a string), a status and extra headers. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** Writes `reply`; with `closing`, tells a keep-alive client to go, so shutdown is not held up by it. */
export function send(res: ServerResponse, reply: Reply, closing: boolean): void {
  if (res.destroyed) return;
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...reply.headers,
  };
  if (closing) headers.connection = 'close';
  res.writeHead(reply.status, headers);
  res.end(text);
}

/** The request's JSON body; `undefined` when empty. @throws BadRequestError when too large or not JSON. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('the body is not valid JSON');
  }
}

/** A percent-decoded path segment. @throws BadRequestError when it is not valid percent-encoding. */
export function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError('the path is not valid percent-encoding');
  }
}
