import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An endpoint keeps every secret a rotation retired, each signing until its own expiry, instead of
 * one `previous_secret`: a second rotation within 24 h overwrote the first secret, which stopped
 * signing at once although contract §5 gives it 24 h. Newest first, as `{secret, expiresAt}` objects.
 */
export class RetiredEndpointSecrets1795450200000 implements MigrationInterface {
  name = 'RetiredEndpointSecrets1795450200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints ADD COLUMN retired_secrets jsonb NOT NULL DEFAULT '[]'`);
    await db.query(
      `UPDATE endpoints SET retired_secrets = jsonb_build_array(jsonb_build_object(
         'secret', previous_secret,
         'expiresAt', to_char(previous_secret_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
       WHERE previous_secret IS NOT NULL AND previous_secret_expires_at > now()`,
    );
    await db.query(
      `ALTER TABLE endpoints DROP COLUMN previous_secret, DROP COLUMN previous_secret_expires_at`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(
      `ALTER TABLE endpoints ADD COLUMN previous_secret text, ADD COLUMN previous_secret_expires_at timestamptz`,
    );
    // One previous secret only: the newest retired one.
    await db.query(
      `UPDATE endpoints SET previous_secret = retired_secrets->0->>'secret',
              previous_secret_expires_at = (retired_secrets->0->>'expiresAt')::timestamptz
       WHERE jsonb_array_length(retired_secrets) > 0`,
    );
    await db.query(`ALTER TABLE endpoints DROP COLUMN retired_secrets`);
  }
}
