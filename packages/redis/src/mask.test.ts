import { describe, expect, it } from 'vitest';
import { addressOf, redactError, redactUrl, secretList, urlSecrets } from './mask.js';

describe('masking credentials', () => {
  it('URLs lose their password, keep the rest', () => {
    expect(redactUrl('redis://:s3cret@127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(redactUrl('rediss://app:s3cret@cache.internal:6380/2')).toBe('rediss://app@cache.internal:6380/2');
    expect(redactUrl('not a url:s3cret@host')).toBe('***@host');
    expect(addressOf('redis://:s3cret@10.0.0.1')).toBe('10.0.0.1:6379');
  });

  it('collects raw and decoded passwords, longest first', () => {
    expect(urlSecrets('redis://:p%40ss@h')).toEqual(['p%40ss', 'p@ss']);
    expect(urlSecrets('redis://h')).toEqual([]);
    expect(urlSecrets(undefined)).toEqual([]);
    expect(secretList('ab', undefined, 'abc', '', 'ab', 3)).toEqual(['abc', 'ab']);
  });

  it('errors: a leak is masked in message, stack, fields and AUTH / HELLO arguments; others pass as they are', () => {
    const clean = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    expect(redactError(clean, ['s3cret'])).toBe(clean);
    const hello = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      command: { name: 'hello', args: [3, 'AUTH', 'default', 's3cret'] },
    });
    const masked = redactError(hello, ['s3cret']);
    expect(masked).not.toBe(hello);
    expect(masked.name).toBe('ReplyError');
    expect(JSON.stringify(masked)).not.toContain('s3cret');
    expect((masked as unknown as { command: unknown }).command).toEqual({ name: 'hello', args: ['***'] });
    const leaky = Object.assign(new Error('failed for redis://:s3cret@h'), {
      code: 'EX',
      port: 1,
      address: 's3cret',
    });
    const m2 = redactError(leaky, ['s3cret']);
    expect(m2.message).toBe('failed for redis://:***@h');
    expect(m2.stack).not.toContain('s3cret');
    expect(m2).toMatchObject({ code: 'EX', port: 1, address: '***' });
  });
});
