import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, maskUrl } from './config.js';

const required = {
  PG_PRIMARY_URL: 'postgres://app:s3cret@db:5432/app',
  REDIS_URL: 'redis://:r3dis@cache:6379',
};

/** The error `loadConfig` throws for `env`. */
function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('loadConfig', () => {
  it('applies the documented defaults when only the required variables are set', () => {
    const config = loadConfig(required);
    expect(config).toMatchObject({
      mode: 'ballast',
      port: 8080,
      pgReplicaUrls: [],
      requestDeadlineMs: 1000,
      pgPoolMax: 10,
      modelLatencyMs: 40,
      modelJitterMs: 20,
      modelFailureRate: 0,
      backfillConcurrency: 8,
    });
    expect(config.instance).toBe(`${hostname()}-${process.pid}`);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      ...required,
      MODE: 'naive',
      PORT: '0',
      INSTANCE: 'api-1',
      PG_REPLICA_URLS: 'postgres://app:s3cret@r1/app, postgres://app:s3cret@r2/app,',
      REQUEST_DEADLINE_MS: '250',
      PG_POOL_MAX: '3',
      MODEL_LATENCY_MS: '0',
      MODEL_JITTER_MS: '5',
      MODEL_FAILURE_RATE: '0.25',
      BACKFILL_CONCURRENCY: '2',
    });
    expect(config).toEqual({
      mode: 'naive',
      port: 0,
      instance: 'api-1',
      pgPrimaryUrl: required.PG_PRIMARY_URL,
      pgReplicaUrls: ['postgres://app:s3cret@r1/app', 'postgres://app:s3cret@r2/app'],
      redisUrl: required.REDIS_URL,
      requestDeadlineMs: 250,
      pgPoolMax: 3,
      modelLatencyMs: 0,
      modelJitterMs: 5,
      modelFailureRate: 0.25,
      backfillConcurrency: 2,
    });
  });

  it('names the variable and the value it refuses', () => {
    expect(errorOf({ ...required, PORT: 'eighty' }).message).toBe(
      'Invalid PORT: expected an integer in [0, 65535], received "eighty"',
    );
    expect(errorOf({ ...required, MODE: 'fast' }).message).toMatch(/^Invalid MODE: .*"fast"$/);
    expect(errorOf({ ...required, MODEL_FAILURE_RATE: '1.5' }).message).toMatch(/MODEL_FAILURE_RATE.*"1.5"/);
    expect(errorOf({ ...required, PG_POOL_MAX: '2.5' }).message).toMatch(/PG_POOL_MAX.*"2.5"/);
    expect(errorOf({ PG_PRIMARY_URL: required.PG_PRIMARY_URL }).message).toBe(
      'Missing REDIS_URL: it is required',
    );
  });

  it('never prints the password of a URL it refuses', () => {
    const message = errorOf({
      ...required,
      PG_REPLICA_URLS: 'postgres://app:s3cret@replica:notaport/app',
    }).message;
    expect(message).toBe('Invalid PG_REPLICA_URLS: expected a postgres:// or postgresql:// URL with a host');
    // A password in the query string, on a URL refused for another reason (no host).
    const query = errorOf({ ...required, PG_PRIMARY_URL: 'postgres:///app?password=s3cret' }).message;
    expect(query).toContain('PG_PRIMARY_URL');
    expect(query).not.toContain('s3cret');
    const redis = errorOf({ ...required, REDIS_URL: 'http://:r3dis@cache:6379' }).message;
    expect(redis).toContain('REDIS_URL');
    expect(redis).not.toContain('r3dis');
  });
});

describe('maskUrl', () => {
  it('masks the password of every URL in a text, including one with an @ in it', () => {
    expect(maskUrl('a redis://:pw@h:1 and postgres://u:p@ss@h/db')).toBe(
      'a redis://:***@h:1 and postgres://u:***@h/db',
    );
    expect(maskUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
    expect(maskUrl('postgres://h/db?sslmode=require&password=s3cret&sslpassword=k3y')).toBe(
      'postgres://h/db?sslmode=require&password=***&sslpassword=***',
    );
  });

  it('accepts a Unix-socket URL (host in the query), as pg does', () => {
    const config = loadConfig({ ...required, PG_PRIMARY_URL: 'postgres:///app?host=/var/run/postgresql' });
    expect(config.pgPrimaryUrl).toBe('postgres:///app?host=/var/run/postgresql');
  });
});
