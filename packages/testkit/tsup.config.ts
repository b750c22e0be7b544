import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts', 'vitest-setup': 'src/vitest-setup.ts' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', 'vitest-setup': 'src/vitest-setup.ts' } },
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: false,
});
