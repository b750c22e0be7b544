// The public surface of @ballast/pg, in one screen.

export type { CallOptions, ClusterStats, ReadOptions } from './cluster.js';
export { Cluster, createCluster } from './cluster.js';
export type { ClusterEvents } from './events.js';
export type { PoolFacadeOptions } from './facade.js';
export { BallastPool, BallastPoolClient, DEFAULT_POOL_FACADE } from './facade.js';
export type { ClusterOptions, ClusterPoolOptions, HostPolicyOptions, RoutingOptions } from './options.js';
export { DEFAULT_CLUSTER } from './options.js';
export { Session } from './session.js';
export type { TransactionClient, TransactionOptions } from './transaction.js';
export { isAmbiguousCommit } from './transaction.js';
export type { HostPoolStats, SessionPosition } from './types.js';
