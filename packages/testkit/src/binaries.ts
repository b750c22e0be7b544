import { execFileSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where the PostgreSQL server programs the kit runs live, and which version they are. */
export interface PostgresBinaries {
  /** The directory holding all of them. */
  readonly bindir: string;
  readonly initdb: string;
  readonly postgres: string;
  readonly pgBasebackup: string;
  readonly pgCtl: string;
  /** Full version reported by `postgres --version`, e.g. `'15.14'`. */
  readonly version: string;
  /** Major version, e.g. `15`. */
  readonly major: number;
}

/** Environment variable naming the one directory to take the server binaries from. */
export const PG_BINDIR_ENV = 'BALLAST_TESTKIT_PG_BINDIR';

const REQUIRED = ['initdb', 'postgres', 'pg_basebackup'] as const;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function pgConfigBindir(): string | undefined {
  try {
    const out = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `/usr/lib/postgresql/<major>/bin` of the newest installed major (Debian/Ubuntu layout). */
function debianBindir(): string | undefined {
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    return majors[0] === undefined ? undefined : join('/usr/lib/postgresql', majors[0], 'bin');
  } catch {
    return undefined;
  }
}

/** The directories searched, in order, without duplicates. */
function candidates(): string[] {
  const override = process.env[PG_BINDIR_ENV];
  if (override !== undefined && override !== '') return [override];
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  const dirs = [pgConfigBindir(), debianBindir(), ...path].filter((dir): dir is string => dir !== undefined);
  return [...new Set(dirs)];
}

function readVersion(postgres: string): { version: string; major: number } {
  const out = execFileSync(postgres, ['--version'], { encoding: 'utf8' });
  // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out);
  if (match?.[1] === undefined)
    throw new Error(`could not read the version from '${postgres} --version': ${out}`);
  return { version: match[2] === undefined ? match[1] : `${match[1]}.${match[2]}`, major: Number(match[1]) };
}

/**
 * Finds the PostgreSQL server binaries the kit needs (`initdb`, `postgres`, `pg_basebackup`; `pg_ctl` is
 * reported when present). Searches `$BALLAST_TESTKIT_PG_BINDIR` alone when it is set; otherwise
 * `pg_config --bindir`, then `/usr/lib/postgresql/<newest>/bin`, then every directory on `PATH`. The first
 * directory holding all three wins.
 *
 * @returns absolute paths of the programs and the server version.
 * @throws Error naming every directory searched and what to install when no directory holds all three.
 * @example
 * ```ts
 * const bins = findPostgresBinaries();
 * console.log(bins.bindir, bins.version); // "/usr/lib/postgresql/15/bin" "15.14"
 * ```
 */
export function findPostgresBinaries(): PostgresBinaries {
  const searched = candidates();
  for (const bindir of searched) {
    if (!REQUIRED.every((name) => executable(join(bindir, name)))) continue;
    const postgres = join(bindir, 'postgres');
    return {
      bindir,
      initdb: join(bindir, 'initdb'),
      postgres,
      pgBasebackup: join(bindir, 'pg_basebackup'),
      pgCtl: join(bindir, 'pg_ctl'),
      ...readVersion(postgres),
    };
  }
  throw new Error(
    `PostgreSQL server binaries (initdb, postgres, pg_basebackup) were not found in ${searched.join(', ') || '(no directory)'}. ` +
      `Install them: apt-get install -y postgresql (Debian/Ubuntu), or set ${PG_BINDIR_ENV}.`,
  );
}
