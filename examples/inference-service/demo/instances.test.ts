import { describe, expect, it } from 'vitest';
import { lastError } from './instances.js';

describe('lastError', () => {
  it('finds the error a crashed instance logged last, with its code', () => {
    const log = [
      '{"event":"listening","port":1,"instance":"ballast-b","mode":"ballast"}',
      '(node:1) MaxListenersExceededWarning: Possible EventTarget memory leak detected.',
      '/work/main/packages/core/src/errors.ts:116',
      '',
      'BallastError: 127.0.0.1:4001/ballast: deadline exceeded',
      '    at deadlineError (/work/main/packages/core/src/errors.ts:116:10)',
      "  code: 'BALLAST_DEADLINE_EXCEEDED',",
      '  retryable: false,',
      '}',
      '',
      'Node.js v20.20.2',
    ].join('\n');
    expect(lastError(log)).toBe(
      "BallastError: 127.0.0.1:4001/ballast: deadline exceeded (code: 'BALLAST_DEADLINE_EXCEEDED')",
    );
  });

  it('is undefined when the log shows no error', () => {
    expect(lastError('{"event":"listening"}\n')).toBeUndefined();
  });
});
