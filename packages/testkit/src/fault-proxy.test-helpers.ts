import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LOOPBACK } from './ports.js';

/** A loopback TCP server for proxy tests; `onSocket` decides what it does with each connection. */
export async function tcpServer(
  onSocket: (socket: Socket) => void,
): Promise<{ port: number; server: Server; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    onSocket(socket);
  });
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An echo server. */
export function echoServer(): ReturnType<typeof tcpServer> {
  return tcpServer((socket) => socket.pipe(socket));
}

/** Connects to `port`; rejects with the socket error (its `code`, e.g. `ECONNREFUSED`). */
export function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, LOOPBACK);
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with the first `bytes` bytes read from `socket`, or `undefined` after `timeoutMs`. */
export function read(socket: Socket, bytes: number, timeoutMs = 5_000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (value: Buffer | undefined): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) done(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('data', onData);
  });
}

/** Milliseconds for `payload` to go out on `socket` and come back in full (through an echo server). */
export async function roundTripMs(socket: Socket, payload = Buffer.from('ping')): Promise<number> {
  const started = performance.now();
  const reply = read(socket, payload.length);
  socket.write(payload);
  if ((await reply) === undefined) throw new Error('no echo within 5 s');
  return performance.now() - started;
}

/** Resolves with how `socket` ended: the error code it saw (`ECONNRESET`…) or `'close'`. */
export function closed(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let code: string | undefined;
    socket.once('error', (error: NodeJS.ErrnoException) => {
      code = error.code ?? error.message;
    });
    socket.once('close', () => resolve(code ?? 'close'));
  });
}

/** Median of `n` runs of `fn`. */
export async function median(n: number, fn: () => Promise<number>): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < n; i++) runs.push(await fn());
  runs.sort((a, b) => a - b);
  return runs[Math.floor(n / 2)] ?? Number.NaN;
}
