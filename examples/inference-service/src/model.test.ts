import { describe, expect, it } from 'vitest';
import { createModel, ModelError } from './model.js';

describe('the simulated model', () => {
  it('answers equal prompts with equal completions', async () => {
    const model = createModel({ latencyMs: 1, jitterMs: 1, failureRate: 0 });
    const a = await model.generate('what is a retry budget?');
    expect(a).toContain('what is a retry budget?');
    expect(await model.generate('what is a retry budget?')).toBe(a);
  });

  it('fails with ModelError at its failure rate', async () => {
    const draws = [0, 0.3, 0, 0.9]; // jitter, failure draw: 0.3 < 0.5 fails, 0.9 does not
    const model = createModel({
      latencyMs: 0,
      jitterMs: 0,
      failureRate: 0.5,
      random: () => draws.shift() ?? 0,
    });
    await expect(model.generate('hi')).rejects.toBeInstanceOf(ModelError);
    await expect(model.generate('hi')).resolves.toContain('hi');
  });

  it('stops when its signal aborts, with the signal reason', async () => {
    const model = createModel({ latencyMs: 30_000, jitterMs: 0, failureRate: 0 });
    const controller = new AbortController();
    const reason = new Error('deadline');
    const call = model.generate('slow', controller.signal);
    setTimeout(() => controller.abort(reason), 10);
    await expect(call).rejects.toBe(reason);
    await expect(model.generate('slow', controller.signal)).rejects.toBe(reason);
  });
});
