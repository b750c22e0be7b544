/**
 * Ballast against naive, phase by phase: a verdict for the report, and the failures that fail `--quick` (CI).
 */
import type { ClientSummary } from './summary.js';

/** How one phase compares. */
export interface Verdict {
  phase: string;
  outcome: 'better' | 'equal' | 'worse';
  /** The numbers behind it, in words: "chat goodput 24.8 vs 3.1 req/s". */
  reasons: string[];
}

/** True when `ballast` is below 0.9 × `naive` minus 1 req/s: the margin that is not noise. */
export function isWorse(ballast: number, naive: number): boolean {
  return ballast < 0.9 * naive - 1;
}

function fmt(value: number): string {
  return value.toFixed(1);
}

/**
 * The verdict of one phase: worse when Ballast shows a stale session read or its chat or read goodput is
 * {@link isWorse} than naive's; better when it is the other way round (naive below 0.9 × Ballast − 1, or naive
 * stale while Ballast is not); equal otherwise.
 */
export function verdictFor(phase: string, ballast: ClientSummary, naive: ClientSummary): Verdict {
  const worse: string[] = [];
  const better: string[] = [];
  const goodput = [
    ['chat goodput', ballast.chat.goodputPerSec, naive.chat.goodputPerSec],
    ['read goodput', ballast.read.goodputPerSec, naive.read.goodputPerSec],
  ] as const;
  for (const [what, b, n] of goodput) {
    const line = `${what} ${fmt(b)} vs ${fmt(n)} req/s`;
    if (isWorse(b, n)) worse.push(line);
    else if (isWorse(n, b)) better.push(line);
  }
  const stale = `stale session reads ${ballast.chat.stale} vs ${naive.chat.stale}`;
  if (ballast.chat.stale > 0) worse.push(stale);
  else if (naive.chat.stale > 0) better.push(stale);
  if (worse.length > 0) return { phase, outcome: 'worse', reasons: worse };
  if (better.length > 0) return { phase, outcome: 'better', reasons: better };
  return {
    phase,
    outcome: 'equal',
    reasons: [`chat goodput ${fmt(goodput[0][1])} vs ${fmt(goodput[0][2])} req/s, no stale reads`],
  };
}

/**
 * What fails a `--quick` run: one line per phase where Ballast is worse (any stale read counts), and one per
 * Ballast instance that exited on its own (a crash is worse than any number).
 */
export function quickFailures(
  verdicts: readonly Verdict[],
  ballastIncidents: readonly { instance: string; phase: string; what: string }[] = [],
): string[] {
  return [
    ...verdicts
      .filter((v) => v.outcome === 'worse')
      .map((v) => `${v.phase}: Ballast worse — ${v.reasons.join('; ')}`),
    ...ballastIncidents.map((x) => `${x.phase}: ${x.instance} ${x.what}`),
  ];
}
