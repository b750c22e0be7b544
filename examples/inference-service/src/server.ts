import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backfill, parseBackfillLimit } from './backfill.js';
import { boundedString, chat, parseChatInput } from './chat.js';
import type { Config } from './config.js';
import { createBallastData } from './data/ballast.js';
import { createNaiveData } from './data/naive.js';
import type { DataLayer, RequestData, RequestInfo } from './data/types.js';
import { describeError, httpErrorOf } from './errors.js';
import { decodeParam, type Reply, readJson, send } from './http.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { createModel } from './model.js';
import { countModelCalls, createServiceMetrics, type ServiceMetrics } from './service-metrics.js';

/** The header that carries a read-your-writes session between requests (and between instances). */
export const SESSION_HEADER = 'x-ballast-session';

/** How long shutdown waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 2_000;

/** Abort listeners a request's signal may have at once without a warning: a backfill's updates in flight. */
const BACKFILL_LISTENERS = 1_000;

/** Messages `GET /v1/conversations/:id` returns at most (the latest). */
const CONVERSATION_LIMIT = 200;

/** A running instance. */
export interface Service {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly metrics: ServiceMetrics;
  /** Stops accepting, lets requests in flight finish (at most 2 s), then closes the data layer. Idempotent. */
  close(): Promise<void>;
}

/** Seams for tests. */
export interface ServiceOptions {
  /** @default the data layer `config.mode` names */
  data?: ((metrics: ServiceMetrics) => DataLayer) | undefined;
}

/** What a route handler gets. */
interface Call {
  req: IncomingMessage;
  /** The path's captures. */
  params: string[];
  /** The request's budget and session, for {@link DataLayer.run}. */
  request: RequestInfo;
}

interface Route {
  method: 'GET' | 'POST';
  path: RegExp;
  /** The `route` label of the metrics. */
  name: string;
  /** Data work of chat and reads is interactive; the backfill is batch work. */
  priority?: RequestInfo['priority'];
  handle(call: Call): Promise<Reply>;
}

/**
 * Starts the HTTP service on `config.port` (`0`: any free port) with the data layer of `config.mode`.
 * Resolves once it listens.
 */
export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const metrics = createServiceMetrics(config.instance, config.mode);
  const data =
    options.data?.(metrics) ??
    (config.mode === 'ballast' ? createBallastData(config, metrics) : createNaiveData(config));
  const model = countModelCalls(
    createModel({
      latencyMs: config.modelLatencyMs,
      jitterMs: config.modelJitterMs,
      failureRate: config.modelFailureRate,
    }),
    metrics,
  );
  const { instance, mode } = config;

  /** Runs `work` in the data layer; the reply carries the session token when the layer keeps sessions. */
  async function withData<T>(request: RequestInfo, work: (d: RequestData) => Promise<T>) {
    let token: string | undefined;
    const value = await data.run(request, async (d) => {
      const result = await work(d);
      token = d.sessionToken();
      return result;
    });
    const headers: Record<string, string> = token ? { [SESSION_HEADER]: token } : {};
    return { value, headers };
  }

  const routes: Route[] = [
    {
      method: 'POST',
      path: /^\/v1\/chat$/,
      name: 'chat',
      priority: 'interactive',
      async handle({ req, request }) {
        const input = parseChatInput(await readJson(req));
        const { value, headers } = await withData(request, (d) => chat(d, model, metrics, input));
        return { status: 200, body: { ...value, instance, mode }, headers };
      },
    },
    {
      method: 'POST',
      path: /^\/v1\/embeddings\/backfill$/,
      name: 'backfill',
      priority: 'batch',
      async handle({ req, request }) {
        const limit = parseBackfillLimit(await readJson(req));
        const { value } = await withData(request, (d) => backfill(d, limit, config.backfillConcurrency));
        return { status: 200, body: value };
      },
    },
    {
      method: 'GET',
      path: /^\/v1\/conversations\/([^/]+)$/,
      name: 'conversation',
      priority: 'interactive',
      async handle({ params, request }) {
        const conversationId = boundedString('conversation id', decodeParam(params[0] ?? ''), 128);
        // Eventual by default; a client that sends its session token gets its own writes back.
        const consistency = request.sessionToken === undefined ? 'eventual' : 'session';
        const { value, headers } = await withData(request, (d) =>
          d.recentMessages(conversationId, CONVERSATION_LIMIT, consistency),
        );
        const body = { conversationId, messages: value.messages, servedBy: value.servedBy, instance };
        return { status: 200, body, headers };
      },
    },
    {
      method: 'GET',
      path: /^\/healthz$/,
      name: 'healthz',
      async handle() {
        return { status: 200, body: { status: 'ok' } };
      },
    },
    {
      method: 'GET',
      path: /^\/readyz$/,
      name: 'readyz',
      async handle() {
        const readiness = await data.readiness();
        return { status: readiness.ready ? 200 : 503, body: readiness };
      },
    },
    {
      method: 'GET',
      path: /^\/metrics$/,
      name: 'metrics',
      async handle() {
        return {
          status: 200,
          body: metrics.registry.render(),
          headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
        };
      },
    },
  ];

  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    let params: string[] = [];
    const route = routes.find((r) => {
      const match = r.method === req.method ? r.path.exec(path) : null;
      if (match !== null) params = match.slice(1);
      return match !== null;
    });
    // A client that hangs up stops its request's work (Ballast cancels the statement on the server).
    const gone = new AbortController();
    // Every call of the request listens on it while it runs: the backfill's fan-out has more than Node's default
    // warning threshold (10) in flight at once, which is expected here, not a leak.
    setMaxListeners(BACKFILL_LISTENERS, gone.signal);
    res.on('close', () => {
      if (!res.writableFinished) gone.abort(new Error('the client closed the connection'));
    });
    const header = req.headers[SESSION_HEADER];
    const request: RequestInfo = {
      budgetMs: config.requestDeadlineMs,
      priority: route?.priority ?? 'interactive',
      sessionToken: typeof header === 'string' && header !== '' ? header : undefined,
      signal: gone.signal,
    };

    let reply: Reply;
    try {
      reply = route
        ? await route.handle({ req, params, request })
        : { status: 404, body: { error: 'not-found' } };
    } catch (error) {
      const { status, body, retryAfterS } = httpErrorOf(error);
      if (status === 500)
        console.error(JSON.stringify({ event: 'error', route: route?.name, error: describeError(error) }));
      reply = {
        status,
        body,
        headers: retryAfterS === undefined ? {} : { 'retry-after': String(retryAfterS) },
      };
    }
    send(res, reply, closing);

    const name = route?.name ?? 'unknown';
    metrics.requests.inc({ route: name, status: String(reply.status) });
    metrics.requestDuration.observe({ route: name }, (performance.now() - started) / 1000);
    if (reply.status === 503 && route?.priority !== undefined)
      metrics.shed.inc({ route: name, priority: route.priority });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      console.error(JSON.stringify({ event: 'error', error: describeError(error) }));
      res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    metrics,
    close() {
      closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await stopped;
        clearTimeout(force);
        await data.close();
      })();
      return closed;
    },
  };
}
