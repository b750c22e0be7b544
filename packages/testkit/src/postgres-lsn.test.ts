import { describe, expect, it } from 'vitest';
import { redactor } from './postgres.js';
import { formatLsn, parseLsn, replayTarget } from './postgres-lsn.js';

describe('pg_lsn arithmetic', () => {
  it('parses and formats X/Y positions', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848');
    expect(() => parseLsn('nope')).toThrow(/not a pg_lsn/);
  });

  it('targets the page boundary when the insert position only skipped a page header', () => {
    expect(replayTarget(parseLsn('0/3000028'))).toBe(parseLsn('0/3000000')); // long header, segment start
    expect(replayTarget(parseLsn('0/3002018'))).toBe(parseLsn('0/3002000')); // short header
    expect(replayTarget(parseLsn('0/3002060'))).toBe(parseLsn('0/3002060'));
  });
});

describe('credential masking', () => {
  it('masks passwords in URLs, conninfo strings, SQL and anywhere else', () => {
    const redact = redactor(['s3cr/et']);
    expect(redact('postgres://ballast:s3cr%2Fet@127.0.0.1:5432/ballast')).toBe(
      'postgres://ballast:***@127.0.0.1:5432/ballast',
    );
    expect(redact('redis://:other@h:1 user=x password=other host=h')).toBe(
      'redis://:***@h:1 user=x password=*** host=h',
    );
    expect(redact("CREATE ROLE x PASSWORD 'it''s'")).toBe("CREATE ROLE x PASSWORD '***'");
    expect(redact('the password is s3cr/et')).toBe('the password is ***');
  });
});
