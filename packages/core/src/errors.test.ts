import { describe, expect, it } from 'vitest';
import { BallastError, invalidArgument, isBallastError, shedError } from './errors.js';

describe('BallastError', () => {
  it('keeps the driver error unchanged as cause', () => {
    const cause = Object.assign(new Error('duplicate key'), { code: '23505' });
    const error = new BallastError('BALLAST_NO_HEALTHY_HOST', 'no host', { cause });
    expect(error.cause).toBe(cause);
    expect(error.code).toBe('BALLAST_NO_HEALTHY_HOST');
    expect(error.retryable).toBe(false);
  });

  it('is recognised across two copies of the package by its Symbol.for marker', () => {
    // A second copy of the package has its own class but the same registered symbol.
    const foreign = Object.create(
      Object.defineProperty({}, Symbol.for('ballast.error'), { value: true }),
    ) as Record<string, unknown>;
    foreign.code = 'BALLAST_SHED';
    expect(isBallastError(foreign)).toBe(true);
    expect(isBallastError(foreign, 'BALLAST_SHED')).toBe(true);
    expect(isBallastError(foreign, 'BALLAST_CIRCUIT_OPEN')).toBe(false);
  });

  it('is not fooled by a plain error with a matching code', () => {
    expect(isBallastError(Object.assign(new Error('x'), { code: 'BALLAST_SHED' }))).toBe(false);
    expect(isBallastError(null)).toBe(false);
    expect(isBallastError('BALLAST_SHED')).toBe(false);
  });

  it('a shed error is retryable and carries its reason', () => {
    const e = shedError('queue-full', 'pg-primary', 50);
    expect(e).toMatchObject({
      code: 'BALLAST_SHED',
      reason: 'queue-full',
      retryable: true,
      retryAfterMs: 50,
    });
    expect(e.message).toContain('pg-primary');
  });

  it('an invalid-argument error names the option and the value, and truncates long strings', () => {
    expect(invalidArgument('breaker.windowMs', -1, 'a number >= 1').message).toBe(
      'Invalid option breaker.windowMs: expected a number >= 1, received -1',
    );
    const long = invalidArgument('name', 'x'.repeat(500), 'short').message;
    expect(long.length).toBeLessThan(200);
  });
});
