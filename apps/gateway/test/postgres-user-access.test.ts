import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { EmbeddedPostgresErrorCode } from '../src/database/embedded-postgres-error.js';
import { checkReachable, type SystemUser } from '../src/database/postgres-user-access.js';

/** Owns nothing here and is in none of its groups, as the `postgres` user is in a root's home. */
const stranger: SystemUser = { uid: 54_321, gids: [54_321] };

describe(checkReachable.name, () => {
  // Stands for /root: a home directory of mode 0700 holding the checkout.
  const home = mkdtempSync(join(tmpdir(), 'herald-home-'));
  const binDir = join(home, 'herald', 'node_modules', '.pnpm', 'native', 'bin');
  mkdirSync(binDir, { recursive: true });
  afterEach(() => chmodSync(home, 0o700));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('names the directory the postgres user cannot enter and what to do', () => {
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(() => checkReachable([binDir], stranger)).toThrow(
      expect.objectContaining({
        code: EmbeddedPostgresErrorCode.NotAccessible,
        message: expect.stringContaining(`cannot enter ${home} on the way to ${binDir}`),
      }),
    );
    expect(() => checkReachable([binDir], stranger)).toThrow(/outside it .*or set DATABASE_URL/);
  });

  it('passes when every directory on the way can be entered', () => {
    chmodSync(home, 0o711);
    expect(() => checkReachable([binDir, tmpdir()], stranger)).not.toThrow();
  });

  it("uses the owner's and the group's bits for the owner and the group", () => {
    const { uid, gid } = statSync(home);
    expect(() => checkReachable([binDir], { uid, gids: [] })).not.toThrow();
    chmodSync(home, 0o070);
    expect(() => checkReachable([binDir], { uid: stranger.uid, gids: [gid] })).not.toThrow();
    expect(() => checkReachable([binDir], { uid, gids: [gid] })).toThrow(/cannot enter/);
  });

  it('treats a postgres user not created yet as a stranger', () => {
    expect(() => checkReachable([binDir], undefined)).toThrow(/cannot enter/);
  });
});
