import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keys installed from an operator's own HERALD_ADMIN_TOKEN stored its first nine characters as their
 * shown prefix, more than half of a 16-character token; they now show four (`tokenPrefix`). Herald's
 * own `hrld_` tokens keep theirs: the fixed part and four random characters. There is no way back: the
 * characters are not kept anywhere.
 */
export class ShortTokenPrefixes1795450700000 implements MigrationInterface {
  name = 'ShortTokenPrefixes1795450700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `UPDATE api_keys SET token_prefix = left(token_prefix, 4) WHERE NOT starts_with(token_prefix, 'hrld_')`,
    );
  }

  async down(): Promise<void> {}
}
