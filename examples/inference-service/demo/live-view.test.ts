import { describe, expect, it } from 'vitest';
import { clientSummary, serviceCounters } from './fixtures.test-helpers.js';
import { LiveView, renderLive } from './live-view.js';

const service = serviceCounters(12, 3);

const state = {
  mode: 'ballast' as const,
  phase: { index: 2, count: 7, title: 'replica lag', elapsedS: 6.5, durationS: 13 },
  rows: [{ title: 'replica lag', client: clientSummary(24.5, 12.5, 0), service }],
  breakers: [{ primary: 'closed', redis: 'open' }, { primary: 'half-open' }],
  inFlight: 17,
};

describe('renderLive', () => {
  it('shows the mode, the phase and its progress, the breakers and one row per phase', () => {
    const lines = renderLive(state);
    expect(lines[0]).toContain('mode ballast   phase 3/7 replica lag  [##########..........] 6.5/13.0 s');
    expect(lines[0]).toContain('in flight 17');
    expect(lines[1]).toContain('primary: closed/half-open');
    expect(lines[1]).toContain('redis: open/–');
    expect(lines[3]).toMatch(/^replica lag\s+24\.5\s+120\s+0\/0\s+0\/0\s+0\s+12\/3\s+12\.5\s+50$/);
  });
});

describe('LiveView', () => {
  function fakeStream(isTTY: boolean) {
    const out: string[] = [];
    const stream = { isTTY, columns: 0, write: (s: string) => out.push(s) } as unknown as NodeJS.WriteStream;
    return { out, stream };
  }

  it('redraws in place on a TTY, moving up over the previous drawing', () => {
    const { out, stream } = fakeStream(true);
    const view = new LiveView(stream);
    view.draw(state);
    view.draw(state);
    expect(out[0]?.startsWith('\x1b[J')).toBe(true);
    expect(out[1]?.startsWith('\x1b[4F\x1b[J')).toBe(true);
    expect(out[1]).toContain('replica lag');
  });

  it('prints one line per finished phase off a TTY, and no redraws', () => {
    const { out, stream } = fakeStream(false);
    const view = new LiveView(stream);
    view.draw(state);
    view.phaseEnded('naive', { title: 'burst 5×', client: clientSummary(101.9, 19.9, 6), service });
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('[naive] burst 5×: chat/s 101.9');
    expect(out[0]).toContain('stale 6');
  });
});
