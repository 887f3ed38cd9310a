import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A fresh, empty database in the run's throwaway cluster, so test files never see each other's data. */
export async function createTestDatabase(): Promise<string> {
  const clusterUrl = process.env.HERALD_TEST_DATABASE_URL;
  if (!clusterUrl)
    throw new Error('HERALD_TEST_DATABASE_URL is not set; run the tests through jest (global setup)');
  const name = `herald_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: clusterUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return clusterUrl.replace(/\/[^/]*$/, `/${name}`);
}
