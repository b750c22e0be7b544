export type { CacheStore, CommandOptions } from './store.js';
