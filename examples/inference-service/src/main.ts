/**
 * The process: reads the configuration, creates the schema, serves, and shuts down cleanly on SIGTERM/SIGINT.
 * Prints one JSON line once it listens: `{"event":"listening","port":…,"instance":…,"mode":…}`.
 */
import { type Config, ConfigError, loadConfig } from './config.js';
import { describeError } from './errors.js';
import { ensureSchema } from './schema.js';
import { startService } from './server.js';

/** Requests in flight get 2 s, closing the pools the rest: a wedged connection must not keep the process alive. */
const CLOSE_TIMEOUT_MS = 2_500;

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(2);
}

try {
  await ensureSchema(config.pgPrimaryUrl);
} catch (error) {
  console.error(`Cannot create the schema on the primary: ${describeError(error)}`);
  process.exit(1);
}

const service = await startService(config);
console.log(
  JSON.stringify({ event: 'listening', port: service.port, instance: config.instance, mode: config.mode }),
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    const timer = setTimeout(() => {
      console.error(`Shutdown did not finish within ${CLOSE_TIMEOUT_MS} ms: exiting anyway`);
      process.exit(1);
    }, CLOSE_TIMEOUT_MS);
    service.close().then(
      () => {
        clearTimeout(timer);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`Shutdown failed: ${describeError(error)}`);
        process.exit(1);
      },
    );
  });
}
