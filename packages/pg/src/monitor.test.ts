import { systemClock } from '@ballast/core';
import { FaultProxy } from '@ballast/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HealthProbe, ProbeConnecting } from './monitor.js';

const { primaryUrl } = inject('ballast').postgres;

/** The health-check connection of one host, against a real primary behind a fault proxy. */
describe('HealthProbe', () => {
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function probeViaProxy(timeoutMs: number): Promise<{ probe: HealthProbe; proxy: FaultProxy }> {
    const url = new URL(primaryUrl);
    const proxy = new FaultProxy({ port: Number(url.port) });
    url.port = String(await proxy.listen());
    const probe = new HealthProbe(url.toString(), systemClock, timeoutMs, 5_000);
    closers.push(
      () => proxy.close(),
      () => probe.close(),
    );
    return { probe, proxy };
  }

  /** Checks until one settles other than ProbeConnecting; returns it and how many were inconclusive. */
  async function checkUntilConclusive(
    probe: HealthProbe,
  ): Promise<{ outcome: unknown; inconclusive: number }> {
    let inconclusive = 0;
    for (;;) {
      const outcome = await probe.check().catch((e: unknown) => e);
      if (!(outcome instanceof ProbeConnecting)) return { outcome, inconclusive };
      inconclusive++;
    }
  }

  it('a blackholed host fails the check on an open connection within the timeout', async () => {
    const { probe, proxy } = await probeViaProxy(200);
    expect((await checkUntilConclusive(probe)).outcome).toMatchObject({ inRecovery: false });
    await proxy.set({ blackhole: true });
    const t0 = performance.now();
    await expect(probe.check()).rejects.toThrow(/timed out after 200 ms/);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it('while reconnecting into an outage, checks are inconclusive for a bounded time, then fail', async () => {
    const { probe, proxy } = await probeViaProxy(150);
    await proxy.set({ blackhole: true });
    const t0 = performance.now();
    const { outcome, inconclusive } = await checkUntilConclusive(probe);
    expect(outcome).toBeInstanceOf(Error);
    expect(String((outcome as Error).message)).toMatch(/no connection after \d+ ms/);
    // 4 check timeouts of allowance: a few inconclusive checks, then failure (not ~5 s of connect timeout).
    expect(inconclusive).toBeGreaterThanOrEqual(3);
    expect(performance.now() - t0).toBeLessThan(2_000);
    // The host comes back: a later check succeeds.
    await proxy.clear();
    await expect
      .poll(async () => (await probe.check().catch(() => undefined))?.inRecovery, { timeout: 5_000 })
      .toBe(false);
  });

  it('a slow link (60 ms each way) is inconclusive while the handshake runs, then healthy — not down', async () => {
    const { probe, proxy } = await probeViaProxy(200);
    await proxy.set({ latencyMs: 60 });
    const { outcome, inconclusive } = await checkUntilConclusive(probe);
    expect(outcome).toMatchObject({ inRecovery: false });
    expect(inconclusive).toBeGreaterThanOrEqual(1);
  });
});
