import { isBallastError } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkToken, decodeToken, encodeToken, mergePositions } from './token.js';
import type { SessionPosition } from './types.js';

const U64 = (1n << 64n) - 1n;
const position = fc.record({
  systemId: fc.bigInt({ min: 0n, max: U64 }).map(String),
  timeline: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  lsn: fc.bigInt({ min: 0n, max: U64 }),
});
const SYS = '7301234567890123456';
const pos = (timeline: number, lsn: bigint, systemId = SYS): SessionPosition => ({ systemId, timeline, lsn });

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isBallastError(error, 'BALLAST_INVALID_ARGUMENT')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

describe('encodeToken / decodeToken', () => {
  it('writes a short, versioned token of URL-, header- and cookie-safe characters', () => {
    const token = encodeToken(pos(1, 0x16b374d848n));
    expect(token).toBe('b1.1jgyvnc1jlyv4.1.16b374d848');
    expect(decodeToken(token)).toEqual(pos(1, 0x16b374d848n));
  });

  it('round-trips every position, within 41 characters of [0-9a-z.]', () => {
    fc.assert(
      fc.property(position, (p) => {
        const token = encodeToken(p);
        expect(token).toMatch(/^b1\.[0-9a-z.]+$/);
        expect(token.length).toBeLessThanOrEqual(41);
        expect(encodeURIComponent(token)).toBe(token);
        expect(decodeToken(token)).toEqual(p);
      }),
    );
  });

  it('accepts only the canonical spelling, so a position has one token', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (s) => {
        let decoded: SessionPosition | undefined;
        try {
          decoded = decodeToken(s);
        } catch (error) {
          return isBallastError(error, 'BALLAST_INVALID_ARGUMENT');
        }
        return encodeToken(decoded) === s;
      }),
    );
  });

  it('refuses malformed tokens with BALLAST_INVALID_ARGUMENT naming the session token', () => {
    const bad = [
      '',
      'b1',
      'b2.1.1.0',
      'B1.1.1.0',
      'b1.1.1',
      'b1.1.1.0.0',
      'b1.1.0.0', // timeline 0 does not exist
      'b1.01.1.0', // leading zero
      'b1.1.1.0A', // upper case
      'b1.1.1.00',
      'b1.1.1.10000000000000000', // LSN past 64 bits
      'b1.3w5e11264sgsg.1.0', // system id 2^64
      'b1.1.1z141z4.0', // timeline 2^32
      'b1.1.1.-1',
      'b1.1.1.0 ',
    ];
    for (const token of bad) {
      expect(
        invalidMessage(() => decodeToken(token)),
        token,
      ).toMatch(/^Invalid session token: /);
    }
    expect(invalidMessage(() => decodeToken(42 as unknown as string))).toMatch(/expected a string/);
  });

  it('echoes no more than a short prefix of a rejected token', () => {
    const message = invalidMessage(() => decodeToken(`b1.secret-${'x'.repeat(5000)}`));
    expect(message).toContain('"b1.secre…"');
    expect(message).toContain('5010 chars');
    expect(message).not.toContain('secret');
  });

  it('refuses to encode an out-of-range position', () => {
    expect(invalidMessage(() => encodeToken(pos(0, 1n)))).toMatch(/timeline/);
    expect(invalidMessage(() => encodeToken(pos(1.5, 1n)))).toMatch(/timeline/);
    expect(invalidMessage(() => encodeToken(pos(1, -1n)))).toMatch(/lsn/);
    expect(invalidMessage(() => encodeToken(pos(1, 1n << 64n)))).toMatch(/lsn/);
    expect(invalidMessage(() => encodeToken(pos(1, 1n, '-1')))).toMatch(/systemId/);
    expect(invalidMessage(() => encodeToken(pos(1, 1n, String(1n << 64n))))).toMatch(/systemId/);
  });
});

describe('mergePositions', () => {
  it('keeps the higher LSN on one timeline', () => {
    expect(mergePositions(pos(1, 10n), pos(1, 20n))).toEqual(pos(1, 20n));
    expect(mergePositions(pos(1, 20n), pos(1, 10n))).toEqual(pos(1, 20n));
  });

  it('prefers the newer timeline whatever its LSN', () => {
    expect(mergePositions(pos(1, 900n), pos(2, 10n))).toEqual(pos(2, 10n));
    expect(mergePositions(pos(3, 5n), pos(2, 10n))).toEqual(pos(3, 5n));
  });

  it('between clusters, keeps the current one, else the newer observation b', () => {
    const foreign = pos(9, 999n, '42');
    expect(mergePositions(foreign, pos(1, 1n), SYS)).toEqual(pos(1, 1n));
    expect(mergePositions(pos(1, 1n), foreign, SYS)).toEqual(pos(1, 1n));
    expect(mergePositions(pos(1, 1n), foreign)).toBe(foreign);
    expect(mergePositions(pos(1, 1n), foreign, 'other')).toBe(foreign);
  });

  it('is commutative, associative and idempotent within a cluster', () => {
    const same = position.map((p) => ({ ...p, systemId: SYS }));
    fc.assert(
      fc.property(same, same, same, (a, b, c) => {
        expect(mergePositions(a, b)).toEqual(mergePositions(b, a));
        expect(mergePositions(mergePositions(a, b), c)).toEqual(mergePositions(a, mergePositions(b, c)));
        expect(mergePositions(a, a)).toBe(a);
      }),
    );
  });
});

describe('checkToken', () => {
  const cluster = { systemId: SYS, timeline: 2, primaryLsn: 1000n };
  const primary = pos(2, 1000n);

  it('accepts a position of this cluster and timeline at or below the primary', () => {
    expect(checkToken(pos(2, 1000n), cluster)).toEqual({ status: 'ok', position: pos(2, 1000n) });
    expect(checkToken(pos(2, 5n), cluster)).toEqual({ status: 'ok', position: pos(2, 5n) });
  });

  it('clamps a position ahead of the primary to the primary', () => {
    expect(checkToken(pos(2, 1001n), cluster)).toEqual({ status: 'ahead', position: primary });
    expect(checkToken(pos(3, 1n), cluster)).toEqual({ status: 'ahead', position: primary });
  });

  it('refuses an older timeline and another cluster, restarting from the primary', () => {
    expect(checkToken(pos(1, 5n), cluster)).toEqual({ status: 'old-timeline', position: primary });
    expect(checkToken(pos(2, 5n, '42'), cluster)).toEqual({ status: 'foreign-cluster', position: primary });
  });

  it('never returns a position the primary has not reached', () => {
    fc.assert(
      fc.property(
        position,
        fc.integer({ min: 1, max: 5 }),
        fc.bigInt({ min: 0n, max: U64 }),
        (p, tl, lsn) => {
          const c = { systemId: p.systemId, timeline: tl, primaryLsn: lsn };
          const { status, position: out } = checkToken(p, c);
          expect(out.systemId).toBe(c.systemId);
          expect(out.timeline).toBe(c.timeline);
          expect(out.lsn <= lsn).toBe(true);
          expect(status === 'ok').toBe(p.timeline === tl && p.lsn <= lsn);
        },
      ),
    );
  });
});
