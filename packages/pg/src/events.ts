/** Events of a cluster (also published on diagnostics_channel as `ballast:pg:<event>`). Never carry credentials. */
export interface ClusterEvents {
  /** The writable primary changed (promotion found, or the old one came back). `from`/`to` are host names. */
  'topology-change': { from: string | undefined; to: string | undefined; reason: string };
  /** No writable primary is known: writes fail fast with BALLAST_PRIMARY_UNAVAILABLE until one is. */
  'primary-unavailable': { host: string | undefined; reason: string };
  /** A host failed its health check or a statement with an error that may mean it went away. */
  'host-down': { host: string; reason: string };
  /** A host answered its health check again. */
  'host-up': { host: string; role: 'primary' | 'replica' };
  /** A read meant for a replica went to the primary, and why. */
  'fallback-to-primary': {
    consistency: 'eventual' | 'session';
    reason: 'no-replica' | 'replica-behind' | 'replica-failed' | 'token-refused';
  };
  /** A session read waited for a replica to replay the session's position. */
  'session-wait': { host: string; waitedMs: number; caughtUp: boolean };
  /** A connection or transaction held longer than `pool.holdWarningMs` (forwarded from the host's pool). */
  'held-too-long': { host: string; heldMs: number };
  /** A pooled connection failed (forwarded); handled, the process never crashes. */
  'connection-error': { host: string; error: Error };
}
