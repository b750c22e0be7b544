/**
 * The load generator's HTTP client: `http.request` over one keep-alive agent, a timeout per request, JSON bodies.
 */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

/** What came back: an answer with its status, or no answer (`status: 0`). */
export type HttpResult =
  | { answered: true; status: number; headers: IncomingHttpHeaders; body: unknown; latencyMs: number }
  | { answered: false; status: 0; failure: 'timeout' | 'error'; message: string; latencyMs: number };

/** One request. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  /** `http://127.0.0.1:<port>` */
  base: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Gives up (and closes the socket) when no answer arrived within this. */
  timeoutMs: number;
  /** Answers whose body is text rather than JSON (`/metrics`). */
  text?: boolean;
}

/** An HTTP client sharing one keep-alive agent. */
export class HttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  /** Sends `req`; never rejects. */
  send(req: HttpRequest): Promise<HttpResult> {
    const started = performance.now();
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: HttpResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
      const headers: Record<string, string> = { ...req.headers };
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(payload));
      }
      const url = new URL(req.path, req.base);
      const outgoing = request(url, { method: req.method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          finish({
            answered: true,
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: req.text === true ? text : parseJson(text),
            latencyMs: performance.now() - started,
          });
        });
        res.on('error', (err) => fail('error', err.message));
      });
      const fail = (failure: 'timeout' | 'error', message: string) => {
        finish({ answered: false, status: 0, failure, message, latencyMs: performance.now() - started });
        outgoing.destroy();
      };
      // the client's timeout: the one timer a request gets
      timer = setTimeout(() => fail('timeout', `no answer within ${req.timeoutMs} ms`), req.timeoutMs);
      outgoing.on('error', (err) => fail('error', err.message));
      outgoing.end(payload);
    });
  }

  /** Closes every idle socket. */
  close(): void {
    this.agent.destroy();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
