import { createServer } from 'node:net';

/** Loopback address every server and proxy of the kit binds to. */
export const LOOPBACK = '127.0.0.1';

/**
 * A TCP port that was free on loopback a moment ago (the OS picks it). Another process can take it before the
 * caller binds it, so starters retry on `EADDRINUSE`.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<void> {
  const { connect } = await import('node:net');
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, LOOPBACK);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!isAlive())
      throw new Error(`the server meant for port ${port} exited before it accepted connections`);
    if (Date.now() > until)
      throw new Error(`nothing accepted connections on ${LOOPBACK}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
