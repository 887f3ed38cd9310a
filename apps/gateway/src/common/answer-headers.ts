/**
 * Headers every answer carries, the API's and Node's own refusals alike: no cache on the way may keep an
 * answer (they carry API keys, endpoint secrets and ingest URLs, which hold their token, when created or
 * rotated), and a client must take a body as the type it is sent as.
 */
export const ANSWER_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;
