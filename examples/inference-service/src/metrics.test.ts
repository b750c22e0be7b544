import { describe, expect, it } from 'vitest';
import { Registry } from './metrics.js';
import { parsePrometheus, sampleValue } from './service.test-helpers.js';

describe('Registry', () => {
  it('renders counters and gauges with escaped labels in text format 0.0.4', () => {
    const registry = new Registry();
    const requests = registry.counter('requests_total', 'Requests.\nAll of them.', ['route', 'status']);
    requests.inc({ route: 'chat', status: '200' });
    requests.inc({ route: 'chat', status: '200' }, 2);
    requests.inc({ route: 'say "hi"\\\n', status: '400' });
    registry.gauge('up', 'Up.').set({}, 1);

    const text = registry.render();
    expect(text).toContain('# HELP requests_total Requests.\\nAll of them.\n# TYPE requests_total counter\n');
    expect(text).toContain('requests_total{route="chat",status="200"} 3\n');
    expect(text).toContain('requests_total{route="say \\"hi\\"\\\\\\n",status="400"} 1\n');
    expect(text).toContain('# TYPE up gauge\nup 1\n');
    const { samples } = parsePrometheus(text);
    expect(sampleValue(samples, 'requests_total', { route: 'say "hi"\\\n' })).toBe(1);
  });

  it('renders histograms as cumulative buckets with +Inf, sum and count', () => {
    const registry = new Registry();
    const duration = registry.histogram('duration_seconds', 'Time.', ['route'], [0.1, 1]);
    for (const v of [0.05, 0.1, 0.5, 3]) duration.observe({ route: 'chat' }, v);

    const { types, samples } = parsePrometheus(registry.render());
    expect(types.get('duration_seconds')).toBe('histogram');
    const bucket = (le: string) => sampleValue(samples, 'duration_seconds_bucket', { route: 'chat', le });
    expect([bucket('0.1'), bucket('1'), bucket('+Inf')]).toEqual([2, 3, 4]);
    expect(sampleValue(samples, 'duration_seconds_sum', { route: 'chat' })).toBeCloseTo(3.65);
    expect(sampleValue(samples, 'duration_seconds_count', { route: 'chat' })).toBe(4);
  });

  it('samples gauges through onCollect at every render', () => {
    const registry = new Registry();
    const inflight = registry.gauge('inflight', 'In flight.');
    let now = 1;
    registry.onCollect(() => inflight.set({}, now));
    expect(registry.render()).toContain('inflight 1\n');
    now = 7;
    expect(registry.render()).toContain('inflight 7\n');
  });

  it('refuses a family name twice', () => {
    const registry = new Registry();
    registry.counter('a_total', 'A.');
    expect(() => registry.gauge('a_total', 'A again.')).toThrow(/a_total/);
  });
});
