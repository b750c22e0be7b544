import { describe, expect, it } from 'vitest';
import {
  breakerStates,
  countersDelta,
  countersOf,
  limiterLimits,
  parsePrometheus,
  total,
} from './metrics.js';

const TEXT = `# HELP inference_shed_total Requests refused with 503, by priority.
# TYPE inference_shed_total counter
inference_shed_total{route="chat",priority="interactive"} 4
inference_shed_total{route="backfill",priority="batch"} 9
inference_ryw_waits_total 3
inference_ryw_fallbacks_total 2
inference_ryw_reads_total{served_by="replica"} 40
inference_ryw_reads_total{served_by="primary"} 2
weird{note="a \\"quoted\\" value, with a comma"} 1.5e3
ballast_breaker_state{host="127.0.0.1:4001/ballast",state="closed"} 0
ballast_breaker_state{host="127.0.0.1:4001/ballast",state="open"} 1
ballast_breaker_state{host="127.0.0.1:4002/ballast",state="closed"} 1
ballast_redis_breaker_state{state="half-open"} 1
ballast_redis_breaker_state{state="closed"} 0
`;

describe('parsePrometheus', () => {
  it('reads names, labels (with escapes) and values, and skips comments', () => {
    const samples = parsePrometheus(TEXT);
    expect(samples).toHaveLength(12);
    expect(samples.find((s) => s.name === 'weird')).toEqual({
      name: 'weird',
      labels: { note: 'a "quoted" value, with a comma' },
      value: 1500,
    });
    expect(total(samples, 'inference_shed_total', { priority: 'batch' })).toBe(9);
    expect(total(samples, 'inference_shed_total')).toBe(13);
  });

  it('skips lines it cannot read', () => {
    expect(parsePrometheus('broken{a="1" 3\nok 2\n{x} 1')).toEqual([{ name: 'ok', labels: {}, value: 2 }]);
  });
});

describe('counters', () => {
  it('sums every instance and gives per-phase deltas', () => {
    const a = parsePrometheus(TEXT);
    const b = parsePrometheus(
      'inference_shed_total{route="chat",priority="interactive"} 1\ninference_ryw_waits_total 1',
    );
    const before = countersOf([a]);
    const after = countersOf([a, b]);
    expect(after.shedInteractive).toBe(5);
    expect(after.rywFromReplica).toBe(40);
    const delta = countersDelta(before, after);
    expect(delta.shedInteractive).toBe(1);
    expect(delta.rywWaits).toBe(1);
    expect(delta.shedBatch).toBe(0);
  });
});

describe('breakerStates', () => {
  it('names the current state of each dependency by its host label', () => {
    const dependencyOf = (host: string) =>
      host.includes(':4001/') ? 'primary' : host.includes(':4002/') ? 'replica' : undefined;
    expect(breakerStates(parsePrometheus(TEXT), dependencyOf)).toEqual({
      primary: 'open',
      replica: 'closed',
      redis: 'half-open',
    });
  });
});

describe('limiterLimits', () => {
  it('reads the adaptive limit of each PostgreSQL host', () => {
    const samples = parsePrometheus(
      'ballast_limiter_limit{host="127.0.0.1:4001/ballast"} 7\nballast_limiter_limit{host="127.0.0.1:4002/ballast"} 10\nballast_limiter_limit{host="127.0.0.1:9/x"} 3',
    );
    const dependencyOf = (host: string) =>
      host.includes(':4001/') ? 'primary' : host.includes(':4002/') ? 'replica' : undefined;
    expect(limiterLimits(samples, dependencyOf)).toEqual({ primary: 7, replica: 10 });
  });
});
