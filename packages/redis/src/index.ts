export type { CacheAside, Loader, LoaderContext } from './cached.js';
export { createCacheAside } from './cached.js';
export type { CorruptReason } from './cached-envelope.js';
export type { CacheAsideCounts, CacheAsideEvents, CacheAsideStats, FallbackCause } from './cached-events.js';
export type { CacheAsideOptions, CachedOptions, NearCacheOptions } from './cached-options.js';
export { DEFAULT_CACHED, DEFAULT_LOADER_POLICY, DEFAULT_NEAR_CACHE } from './cached-options.js';
export type {
  ExecOptions,
  ReadOptions,
  RedisKey,
  RedisValue,
  SetOptions,
  WriteOptions,
} from './command-args.js';
export type { NodeEvent, NodeRole, RedisEvents } from './events.js';
export { IOREDIS_SAFE_OPTIONS } from './ioredis-options.js';
export type { ReadFrom, RedisClient, RedisClientOptions } from './options.js';
export { DEFAULT_REDIS_CLIENT, DEFAULT_REDIS_LIMIT } from './options.js';
export type { RedisOptions, RedisStats } from './redis.js';
export { BallastRedis, createRedis } from './redis.js';
export { redisFailure, redisNotExecuted, redisRetryable } from './redis-errors.js';
export type { NodeCounts, NodeStats } from './redis-node.js';
export type { Serializer } from './serializer.js';
export { jsonSerializer } from './serializer.js';
export type { CacheStore, CommandOptions } from './store.js';
