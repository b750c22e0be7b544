/** How the simulated model behaves. */
export interface ModelOptions {
  /** Time of every call before jitter. */
  latencyMs: number;
  /** Up to this much is added to each call, uniformly. */
  jitterMs: number;
  /** Share of calls that fail (after taking their time), in [0, 1]. */
  failureRate: number;
  /** @default Math.random */
  random?: (() => number) | undefined;
}

/** The model answered with an error: the service answers 502. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly code = 'MODEL_FAILED';
}

/** A completion model: what the service calls on a prompt-cache miss. */
export interface Model {
  /**
   * Answers `prompt`. Stops when `signal` aborts, rejecting with its `reason`, so a caller that gave up stops
   * paying for the call.
   * @throws ModelError when the call fails.
   */
  generate(prompt: string, signal?: AbortSignal): Promise<string>;
}

/**
 * A stand-in for an inference endpoint: its latency and failures are what the service has to live with, and
 * its answers are deterministic so that equal prompts produce equal completions.
 */
export function createModel(options: ModelOptions): Model {
  const random = options.random ?? Math.random;
  return {
    generate(prompt, signal) {
      const delayMs = options.latencyMs + random() * options.jitterMs;
      const fails = random() < options.failureRate;
      return new Promise<string>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          if (fails) reject(new ModelError('the model failed to answer'));
          else resolve(completionOf(prompt));
        }, delayMs);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

function completionOf(prompt: string): string {
  const words = prompt.trim().split(/\s+/).length;
  return `A simulated answer to your ${words}-word message: "${prompt.slice(0, 80)}"`;
}
