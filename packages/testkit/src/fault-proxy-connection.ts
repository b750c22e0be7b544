import { connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResolvedFaults } from './fault-proxy-faults.js';
import { Pipe } from './fault-proxy-pipe.js';
import { LOOPBACK } from './ports.js';

/** A proxied connection: the accepted client socket, the socket to the server, and a pipe each way. */
export interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly pipes: readonly [up: Pipe, down: Pipe];
}

/**
 * RST where the runtime can (Node >= 16.17), a plain destroy otherwise.
 * @throws never
 * @example
 * reset(socket);
 */
export function reset(socket: Socket): void {
  try {
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Connects `client` to the server through two {@link Pipe}s. `onClosed` runs once both sockets have closed.
 * @throws never: socket errors end this connection only
 * @example
 * const c = openConnection(client, { port, host, faults: () => current, onForwarded, onClosed });
 */
export function openConnection(
  client: Socket,
  target: {
    port: number;
    host: string;
    faults: () => ResolvedFaults;
    onForwarded: (direction: 'upstream' | 'downstream', bytes: number) => void;
    onClosed: () => void;
  },
): Connection {
  client.setNoDelay(true);
  const upstream = connect({ port: target.port, host: target.host, allowHalfOpen: true });
  upstream.on('error', () => undefined);
  upstream.setNoDelay(true);
  const pipes = [
    new Pipe(
      client,
      upstream,
      () => target.faults().upstream,
      (n) => target.onForwarded('upstream', n),
    ),
    new Pipe(
      upstream,
      client,
      () => target.faults().downstream,
      (n) => target.onForwarded('downstream', n),
    ),
  ] as const;
  let open = 2;
  const onClose = (peer: Socket) => (hadError: boolean) => {
    // An abortive close (RST, ECONNREFUSED upstream) travels on as a reset; a clean one ended through the
    // pipes already, and the peer closes once its own direction has drained.
    if (hadError) reset(peer);
    open -= 1;
    if (open === 0) {
      for (const pipe of pipes) pipe.dispose();
      target.onClosed();
    }
  };
  client.once('close', onClose(upstream));
  upstream.once('close', onClose(client));
  return { client, upstream, pipes };
}

/**
 * Listens on `port` on loopback, retrying `EADDRINUSE` (a port briefly taken by another process) `attempts` times.
 * @throws {Error} `cannot listen on 127.0.0.1:<port>`, with the system error as `cause` and its `code`.
 * @example
 * await bind(server, 0, 1);
 */
export async function bind(server: Server, port: number, attempts: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => {
          server.off('listening', onListening);
          reject(error);
        };
        const onListening = (): void => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(port, LOOPBACK);
      });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= attempts) {
        throw Object.assign(
          new Error(`FaultProxy: cannot listen on ${LOOPBACK}:${port}: ${(error as Error).message}`),
          {
            cause: error,
            code: (error as NodeJS.ErrnoException).code,
          },
        );
      }
      await sleep(50);
    }
  }
}
