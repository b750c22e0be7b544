import { describe, expect, it } from 'vitest';
import { maskError, maskSecrets, maskUrl, secretsOf } from './mask.js';

describe('maskUrl', () => {
  it('drops the password of a connection string', () => {
    expect(maskUrl('postgres://app:s3cret@db.internal:5432/app')).toBe('postgres://app@db.internal:5432/app');
  });

  it('drops password query parameters', () => {
    const masked = maskUrl('postgres://db:5432/app?user=app&password=s3cret&sslmode=require');
    expect(masked).not.toContain('s3cret');
    expect(masked).toContain('sslmode=require');
  });

  it('masks what follows user: in text that is not a URL', () => {
    expect(maskUrl('postgres://app:s3cret@[bad')).not.toContain('s3cret');
  });

  it('leaves a URL without credentials as it was', () => {
    expect(maskUrl('postgres://db:5432/app')).toBe('postgres://db:5432/app');
  });
});

describe('maskSecrets', () => {
  it('replaces every occurrence of each secret, raw and URL-encoded', () => {
    expect(maskSecrets('a p@ss b p%40ss c', ['p@ss'])).toBe('a *** b *** c');
  });

  it('ignores empty secrets', () => {
    expect(maskSecrets('text', [''])).toBe('text');
  });
});

describe('secretsOf', () => {
  it('finds the password of the URL (raw and decoded) and of the config', () => {
    expect(secretsOf('postgres://u:p%40ss@h/db', 'other')).toEqual(['p%40ss', 'other', 'p@ss']);
  });
});

describe('maskError', () => {
  it('returns the error itself when it holds no secret', () => {
    const e = new Error('connect ECONNREFUSED 127.0.0.1:1');
    expect(maskError(e, ['s3cret'])).toBe(e);
  });

  it('builds a masked copy, keeping name and code, when the message holds a secret', () => {
    const e = Object.assign(new TypeError('bad url postgres://u:s3cret@h'), { code: 'EINVAL' });
    const masked = maskError(e, ['s3cret']);
    expect(masked.message).toBe('bad url postgres://u:***@h');
    expect(masked.stack).not.toContain('s3cret');
    expect(masked.name).toBe('TypeError');
    expect((masked as Error & { code?: string }).code).toBe('EINVAL');
  });
});
