import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkClock, preciseClock, systemClock } from './clock.js';
import { isBallastError } from './errors.js';

describe('systemClock', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill();
  });

  it('is shared within one turn of the event loop', () => {
    expect(systemClock.now()).toBe(systemClock.now());
  });

  it('moves on in the next turn', async () => {
    const a = systemClock.now();
    await new Promise((r) => setTimeout(r, 5));
    expect(systemClock.now()).toBeGreaterThan(a);
  });

  it('does not hand a value read in a timer callback to a later socket callback', async () => {
    // The peer runs in another process and answers 50 ms after it is written to, so nothing in this process
    // wakes the loop meanwhile: it blocks in poll. The client writes from a timer callback, where the clock
    // is read. When the reply arrives the clock must be fresh, not the value read before the wait.
    const peer = spawn(
      process.execPath,
      [
        '-e',
        `const s = require('node:net').createServer((c) => c.on('data', () => setTimeout(() => c.end('pong'), 50)));
         s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(peer);
    const port = await new Promise<number>((resolve) =>
      peer.stdout.once('data', (d: Buffer) => resolve(Number(d))),
    );
    const skew = await new Promise<number>((resolve, reject) => {
      const client = connect(port, '127.0.0.1', () => {
        setTimeout(() => {
          systemClock.now();
          client.write('ping');
        }, 1);
      });
      client.on('data', () => {
        resolve(Math.abs(systemClock.now() - preciseClock.now()));
        client.destroy();
      });
      client.on('error', reject);
    });
    expect(skew).toBeLessThan(20);
  });
});

describe('checkClock', () => {
  it('rejects something that is not a clock, naming the option', () => {
    try {
      checkClock('policy.clock', { now: () => 1 });
      expect.unreachable();
    } catch (error) {
      expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
      expect((error as Error).message).toContain('policy.clock');
    }
  });
});
