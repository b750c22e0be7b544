import { connect, type Socket } from 'node:net';

/**
 * PostgreSQL's CancelRequest, sent by hand: a new TCP (or Unix socket) connection to the server that carries one
 * 16-byte message naming the backend (process ID + secret key from BackendKeyData), which the server reads and
 * then closes. Sent in clear even for TLS connections (the server handles a CancelRequest before
 * authentication, as libpq does when it is not configured otherwise).
 */

/** The CancelRequest code: 1234 in the high 16 bits, 5678 in the low 16 bits. */
export const CANCEL_REQUEST_CODE = 80877102;

/** Where and what to cancel. */
export interface CancelTarget {
  /** Host name or IP; a path starting with `/` is a Unix socket directory (as in pg and libpq). */
  host: string;
  port: number;
  /** The backend's process ID (`client.processID` after connect). */
  processID: number;
  /** The backend's secret key (`client.secretKey` after connect). */
  secretKey: number;
}

/** The 16-byte CancelRequest message for one backend. */
export function cancelRequestMessage(processID: number, secretKey: number): Buffer {
  const buf = Buffer.allocUnsafe(16);
  buf.writeInt32BE(16, 0);
  buf.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  buf.writeInt32BE(processID | 0, 8);
  buf.writeInt32BE(secretKey | 0, 12);
  return buf;
}

/**
 * Asks the server to cancel whatever statement the backend is running. Resolves once the message is written and
 * the server closed the connection (it has read the request by then); the statement itself ends with SQLSTATE
 * 57014 on its own connection shortly after. A backend that is idle ignores the request.
 * @param timeoutMs the cancel connection is given up after this long without progress (socket idle timeout)
 * @throws Error (rejects) when the server cannot be reached or the connection stalls past `timeoutMs`.
 */
export function sendCancelRequest(target: CancelTarget, timeoutMs = 5_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket: Socket = target.host.startsWith('/')
      ? connect({ path: `${target.host}/.s.PGSQL.${target.port}` })
      : connect({ host: target.host, port: target.port });
    let failure: Error | undefined;
    socket.setNoDelay(true);
    socket.setTimeout(timeoutMs);
    socket.unref();
    socket.once('connect', () => {
      // Write without half-closing, as libpq does, and let the server close: a pooler such as PgBouncer drops a
      // cancel whose connection is half-closed right after it (and 1.18 may crash on it).
      socket.write(cancelRequestMessage(target.processID, target.secretKey));
    });
    // The server answers nothing; drain so 'close' follows its FIN.
    socket.on('data', () => {});
    socket.once('timeout', () => {
      failure = new Error(`cancel request to ${target.host}:${target.port} timed out after ${timeoutMs} ms`);
      socket.destroy();
    });
    socket.once('error', (error) => {
      failure = error;
    });
    socket.once('close', () => {
      if (failure === undefined) resolve();
      else reject(failure);
    });
  });
}
