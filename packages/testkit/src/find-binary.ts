import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of a server binary: `env[envVar]` when set (and executable), else the first executable `name` on
 * `PATH` or in `extraDirs`.
 * @throws {Error} `<name> was not found in <places>. <installHint>` — also when the override is not executable.
 */
export function findBinary(
  name: string,
  envVar: string,
  installHint: string,
  extraDirs: readonly string[],
  env: NodeJS.ProcessEnv,
): string {
  const override = env[envVar];
  if (override !== undefined && override !== '') {
    if (isExecutable(override)) return override;
    throw new Error(`${name} was not found in ${override} (${envVar}). ${installHint}`);
  }
  const path = (env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const dirs = [...new Set([...path, ...extraDirs])];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(`${name} was not found in ${dirs.join(', ')}. ${installHint}`);
}
