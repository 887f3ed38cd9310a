import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import { EmbeddedPostgresError, EmbeddedPostgresErrorCode } from './embedded-postgres-error.js';

export interface SystemUser {
  uid: number;
  /** Primary and supplementary groups. */
  gids: number[];
}

/** The `postgres` user that embedded Postgres runs as under root; a missing one is created by the package. */
export function postgresUser(): SystemUser | undefined {
  try {
    const id = (flag: string) => execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim();
    return { uid: Number(id('-u')), gids: id('-G').split(' ').map(Number) };
  } catch {
    return undefined;
  }
}

/** The package's `initdb` and `postgres` binaries for this platform. */
export async function postgresBinaries(): Promise<{ initdb: string; postgres: string }> {
  const fromPackage = createRequire(import.meta.resolve('embedded-postgres'));
  return (await import(fromPackage.resolve(`@embedded-postgres/${platform()}-${arch()}`))) as {
    initdb: string;
    postgres: string;
  };
}

function canEnter(directory: string, user: SystemUser | undefined): boolean {
  const { mode, uid, gid } = statSync(directory);
  if (user?.uid === uid) return (mode & 0o100) !== 0;
  if (user?.gids.includes(gid)) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * Throws, naming the first directory on the way to one of `targets` that `user` cannot enter. A user not
 * yet created owns nothing and is in none of the existing groups.
 */
export function checkReachable(targets: string[], user: SystemUser | undefined): void {
  for (const target of targets) {
    for (let directory = resolve(target); ; directory = dirname(directory)) {
      if (!canEnter(directory, user)) {
        throw new EmbeddedPostgresError(
          EmbeddedPostgresErrorCode.NotAccessible,
          `the postgres user, which embedded Postgres runs as under root, cannot enter ${directory} on the ` +
            `way to ${target}: move the checkout and HERALD_DATA_DIR outside it (a checkout under /root ` +
            'cannot work), or set DATABASE_URL to use your own Postgres',
        );
      }
      if (directory === dirname(directory)) break;
    }
  }
}

/**
 * Under root Postgres runs as the `postgres` user, which must pass through every directory down to the
 * binaries and to the cluster. Otherwise spawning initdb fails with a raw `spawn … EACCES` that is an
 * unhandled 'error' event in the package, crashing Herald without a word on why.
 */
export async function checkPostgresUserAccess(dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  checkReachable([dirname((await postgresBinaries()).initdb), dirname(dataDir)], postgresUser());
}
