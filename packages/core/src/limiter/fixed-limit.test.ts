import { describe, expect, it } from 'vitest';
import { isBallastError } from '../errors.js';
import { fixedLimit } from './fixed-limit.js';

describe('fixedLimit', () => {
  it('never moves', () => {
    const algo = fixedLimit(7);
    algo.onSample(1_000, 7, true);
    expect(algo.limit).toBe(7);
  });

  it('rejects a limit below 1', () => {
    try {
      fixedLimit(0);
      expect.unreachable();
    } catch (e) {
      expect(isBallastError(e, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((e as Error).message).toContain('fixedLimit.limit');
    }
  });
});
