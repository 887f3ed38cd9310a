import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each endpoint's type patterns as LIKE prefixes, which the fan-out tests before their regexes (see
 * MATCHES_ENDPOINT): a regex per pattern of every enabled endpoint, for every event, made the write slow
 * with hundreds of endpoints, since Postgres keeps 32 compiled regexes per connection and compiled each
 * of the others again every time (20 ms an event at 1,000 endpoints, against 4 with none).
 * A pattern's prefix is its literal segments up to its first wildcard, then `%`; a pattern without one
 * is its own prefix; `_` is escaped (segments may hold it; LIKE's escape character is `\`). Every type
 * the pattern matches is LIKE its prefix. A column generated from `filter_types`, so no writer can leave
 * it stale: not this build's (which never names it), nor an older replica's during a rolling upgrade.
 */
export class EndpointTypePrefixes1795451900000 implements MigrationInterface {
  name = 'EndpointTypePrefixes1795451900000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(
      `CREATE OR REPLACE FUNCTION herald_type_prefixes(patterns text[]) RETURNS text[]
       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
         SELECT coalesce(array_agg(
                  CASE WHEN l.literal = cardinality(s.segments) THEN replace(p.pattern, '_', '\\_')
                       WHEN l.literal = 0 THEN '%'
                       ELSE replace(array_to_string(s.segments[1:l.literal], '.'), '_', '\\_') || '.%' END
                  ORDER BY p.n), '{}')
         FROM unnest(patterns) WITH ORDINALITY AS p(pattern, n)
         CROSS JOIN LATERAL (SELECT string_to_array(p.pattern, '.') AS segments) s
         CROSS JOIN LATERAL (SELECT coalesce(min(i) - 1, cardinality(s.segments)) AS literal
                             FROM generate_subscripts(s.segments, 1) AS i
                             WHERE s.segments[i] IN ('*', '**')) l
       $$`,
    );
    await db.query(
      `ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS type_prefixes text[]
         GENERATED ALWAYS AS (herald_type_prefixes(filter_types)) STORED`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE endpoints DROP COLUMN IF EXISTS type_prefixes`);
    await db.query(`DROP FUNCTION IF EXISTS herald_type_prefixes(text[])`);
  }
}
