/** Cluster-wide Postgres advisory lock keys, in one place so they can never collide. */
export const AdvisoryLock = {
  migrations: 0x48455201,
  eventWriter: 0x48455202,
  /** Serialises what decides whether an admin key exists: the bootstrap and every key deletion. */
  adminKeys: 0x48455203,
  retention: 0x48455204,
  silenceWatch: 0x48455205,
  /** With the endpoint's `hashtext(id)` as second key: one replay of an endpoint at a time. */
  endpointReplays: 0x48455206,
} as const;
