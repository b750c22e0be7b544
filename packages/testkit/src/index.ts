// The public surface of @ballast/testkit, in one screen.

export type { PostgresBinaries } from './binaries.js';
export { findPostgresBinaries } from './binaries.js';
export type { DirectionFaults, FaultProxyOptions, FaultProxyStats, Faults } from './fault-proxy.js';
export { DEFAULT_FAULT_PROXY_OPTIONS, FaultProxy } from './fault-proxy.js';
export type { Pgbouncer, PgbouncerOptions, PgbouncerPoolMode, PgbouncerTarget } from './pgbouncer.js';
export { DEFAULT_PGBOUNCER_OPTIONS, findPgbouncer, startPgbouncer } from './pgbouncer.js';
export type {
  PostgresCluster,
  PostgresNode,
  PostgresOptions,
  PostgresSetting,
  QueryTarget,
  ShutdownMode,
  SynchronousCommit,
} from './postgres.js';
export { DEFAULT_POSTGRES_OPTIONS, startPostgres } from './postgres.js';
export type { RedisEndpoint, RedisOptions, RedisServer, RespValue } from './redis.js';
export { DEFAULT_REDIS_OPTIONS, findRedisServer, RespError, startRedis } from './redis.js';
export type { RedisCluster, RedisClusterNode, RedisClusterOptions } from './redis-cluster.js';
export { DEFAULT_REDIS_CLUSTER_OPTIONS, startRedisCluster } from './redis-cluster.js';
export { sweepOrphans } from './registry.js';
export type { TestkitProvided } from './vitest-setup.js';
