export { flushMicrotasks, ManualClock } from './manual-clock.js';
