/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition
 * format 0.0.4. Enough for one service without a dependency; use prom-client when you need more.
 */

/** Label values by label name. Every series of a family has the family's label names. */
export type Labels = Readonly<Record<string, string>>;

/** The `content-type` of {@link Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Default histogram buckets in seconds: 5 ms to 10 s, where request latencies live. */
export const DEFAULT_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the registry renders. */
interface Rendered {
  readonly name: string;
  render(): string[];
}

abstract class Family<S> implements Rendered {
  readonly #series = new Map<string, { labels: Labels; state: S }>();
  protected abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The state of the series with `labels`, created on first use. */
  protected series(labels: Labels): S {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000');
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { labels, state: this.initial() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  protected abstract initial(): S;
  protected abstract lines(labels: Labels, state: S): string[];

  render(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { labels, state } of this.#series.values()) out.push(...this.lines(labels, state));
    return out;
  }

  protected sample(suffix: string, labels: Labels, value: number, extra?: Labels): string {
    const pairs = [
      ...this.labelNames.map((n) => [n, labels[n] ?? ''] as const),
      ...Object.entries(extra ?? {}),
    ];
    const text = pairs.map(([n, v]) => `${n}="${escapeLabel(v)}"`).join(',');
    return `${this.name}${suffix}${text === '' ? '' : `{${text}}`} ${formatValue(value)}`;
  }
}

/** A value that only goes up (resets when the process restarts). */
export class Counter extends Family<{ value: number }> {
  protected readonly type = 'counter';

  inc(labels: Labels = {}, by = 1): void {
    this.series(labels).value += by;
  }

  protected initial() {
    return { value: 0 };
  }

  protected lines(labels: Labels, state: { value: number }) {
    return [this.sample('', labels, state.value)];
  }
}

/** A value that is set: sampled from a component's stats when the registry is scraped. */
export class Gauge extends Family<{ value: number }> {
  protected readonly type = 'gauge';

  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }

  protected initial() {
    return { value: 0 };
  }

  protected lines(labels: Labels, state: { value: number }) {
    return [this.sample('', labels, state.value)];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets, with their sum and count. */
export class Histogram extends Family<HistogramState> {
  protected readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
  }

  observe(labels: Labels, value: number): void {
    const state = this.series(labels);
    state.sum += value;
    state.count++;
    const i = this.buckets.findIndex((upper) => value <= upper);
    if (i >= 0) state.counts[i] = (state.counts[i] ?? 0) + 1;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected lines(labels: Labels, state: HistogramState) {
    let cumulative = 0;
    const out = this.buckets.map((upper, i) => {
      cumulative += state.counts[i] ?? 0;
      return this.sample('_bucket', labels, cumulative, { le: formatValue(upper) });
    });
    out.push(this.sample('_bucket', labels, state.count, { le: '+Inf' }));
    out.push(this.sample('_sum', labels, state.sum), this.sample('_count', labels, state.count));
    return out;
  }
}

/** The metric families of one process, and the hooks that sample gauges before each scrape. */
export class Registry {
  readonly #families: Rendered[] = [];
  readonly #collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets = DEFAULT_BUCKETS_S,
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** Runs `collect` before every {@link Registry.render}: gauges read from stats() stay current. */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** Every family in the text format 0.0.4, ending with a newline. */
  render(): string {
    for (const collect of this.#collectors) collect();
    return `${this.#families.flatMap((f) => f.render()).join('\n')}\n`;
  }

  #add<F extends Rendered>(family: F): F {
    if (this.#families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} exists`);
    this.#families.push(family);
    return family;
  }
}

function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
