import { describe, expect, it } from 'vitest';
import { IOREDIS_SAFE_OPTIONS, ioredisOptionsFor, reconnectDelay } from './ioredis-options.js';
import { resolveRedisClientOptions } from './options.js';

const URL_WITH_PASSWORD = 'redis://app:s3cr3t-pw@127.0.0.1:6380/2';

describe('ioredis options', () => {
  it('turn off the offline queue and resending, reconnect with jitter, and let the caller override', () => {
    const o = resolveRedisClientOptions({ url: URL_WITH_PASSWORD, options: { connectionName: 'svc' } });
    const seen: Error[] = [];
    const io = ioredisOptionsFor(o, (e) => seen.push(e));
    expect(io).toMatchObject({
      ...IOREDIS_SAFE_OPTIONS,
      connectTimeout: 2000,
      keepAlive: 10_000,
      enableAutoPipelining: false,
      connectionName: 'svc',
    });
    expect(io.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(
      true,
    );
    expect(io.reconnectOnError?.(new Error('WRONGTYPE Operation against a key'))).toBe(false);
    expect(seen).toHaveLength(1);
    const delay = io.retryStrategy as (times: number) => number;
    expect(delay(1)).toBeGreaterThanOrEqual(25);
    expect(delay(1)).toBeLessThanOrEqual(50);
  });

  it('reconnectDelay doubles from the base to the cap, drawn from the upper half ("equal jitter")', () => {
    const low = () => 0;
    const high = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7].map((t) => reconnectDelay(t, 50, 2000, low))).toEqual([
      25, 50, 100, 200, 400, 800, 1000,
    ]);
    expect([1, 2, 3, 7, 50].map((t) => reconnectDelay(t, 50, 2000, high))).toEqual([
      50, 100, 200, 2000, 2000,
    ]);
    expect(reconnectDelay(1, 1, 2000, low)).toBe(1);
  });
});
