/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing and verification with WebCrypto, so the
 * same code runs in the gateway, in Node receivers and in browsers.
 */
export const SECRET_PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** A type alias (not an interface) so it fits `Record<string, string>` header parameters. */
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

const encoder = new TextEncoder();
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keyCache = new Map<string, Promise<HmacKey>>();
const KEY_CACHE_LIMIT = 1_000;

export function base64Encode(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function base64Decode(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Decodes `whsec_<base64>` (the prefix is optional, as in the reference libraries) to key bytes. */
export function decodeSecret(secret: string): Uint8Array<ArrayBuffer> {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  try {
    const bytes = base64Decode(encoded);
    if (bytes.length === 0) throw new Error('empty');
    return bytes;
  } catch {
    throw new WebhookVerificationError('the webhook secret is not valid base64');
  }
}

/** A new `whsec_` secret with `byteLength` random bytes (Standard Webhooks asks for 24 to 64). */
export function generateSecret(byteLength = 32): string {
  if (byteLength < 24 || byteLength > 64) throw new RangeError('a webhook secret has 24 to 64 bytes');
  return SECRET_PREFIX + base64Encode(crypto.getRandomValues(new Uint8Array(byteLength)));
}

function importKey(secret: string): Promise<HmacKey> {
  let key = keyCache.get(secret);
  if (!key) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    key = crypto.subtle.importKey('raw', decodeSecret(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

function toBytes(body: string | Uint8Array): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

interface NodeHmacStream {
  update(data: string | Uint8Array): NodeHmacStream;
  digest(encoding: 'base64'): string;
}

interface NodeHmac {
  createHmac(algorithm: 'sha256', key: Uint8Array): NodeHmacStream;
}

/**
 * Node's own HMAC when this runs in Node (20.16+ has `process.getBuiltinModule`): synchronous and about
 * 15× cheaper in CPU than a WebCrypto `subtle.sign` job, which dominated the gateway's profile while it
 * signed outbound webhooks. It also takes the body as it comes, string or bytes, so nothing is encoded
 * or copied first, and it hands out base64 itself. Browsers and other runtimes keep WebCrypto. Same
 * bytes either way.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.('node:crypto') as NodeHmac | undefined;
const secretBytes = new Map<string, Uint8Array>();

function nodeHmac(secret: string, prefix: string, body: string | Uint8Array): NodeHmacStream {
  let key = secretBytes.get(secret);
  if (!key) {
    if (secretBytes.size >= KEY_CACHE_LIMIT) secretBytes.clear();
    key = decodeSecret(secret);
    secretBytes.set(secret, key);
  }
  return nodeCrypto!.createHmac('sha256', key).update(prefix).update(body);
}

async function webCryptoSignature(
  secret: string,
  prefix: string,
  body: string | Uint8Array,
): Promise<Uint8Array> {
  const head = encoder.encode(prefix);
  const bytes = toBytes(body);
  const content = new Uint8Array(head.length + bytes.length);
  content.set(head);
  content.set(bytes, head.length);
  return new Uint8Array(await crypto.subtle.sign('HMAC', await importKey(secret), content));
}

/**
 * `v1,<base64>` for one secret; a string at once under Node, where the gateway signs every outbound
 * webhook and a promise per signature was measurable garbage.
 */
function signature(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): string | Promise<string> {
  const prefix = `${id}.${timestamp}.`;
  if (nodeCrypto) return `v1,${nodeHmac(secret, prefix, body).digest('base64')}`;
  return webCryptoSignature(secret, prefix, body).then((bytes) => `v1,${base64Encode(bytes)}`);
}

/** `v1,<base64>` for one secret. */
export async function sign(
  secret: string,
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): Promise<string> {
  return signature(secret, id, timestamp, body);
}

/**
 * The three Standard Webhooks headers. Several secrets (a rotation in progress) give several
 * space-separated signatures, so a receiver holding either secret accepts the message.
 */
export async function signedHeaders(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string | Uint8Array,
): Promise<WebhookHeaders> {
  const signed = secrets.map((secret) => signature(secret, id, timestamp, body));
  const signatures = signed.every((s) => typeof s === 'string') ? signed : await Promise.all(signed);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatures.join(' '),
  };
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function header(
  headers: Record<string, string | string[] | undefined> | Headers,
  name: string,
): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? record[name.toLowerCase()] ?? findCaseInsensitive(record, name);
  return Array.isArray(value) ? value[0] : value;
}

function findCaseInsensitive(record: Record<string, string | string[] | undefined>, name: string) {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  /** Unix seconds; injectable for tests. */
  now?: number;
}

/**
 * Verifies a Standard Webhooks message and returns its id. Throws WebhookVerificationError when a
 * header is missing, the timestamp is outside the tolerance, or no `v1` signature matches.
 */
export async function verify(
  secret: string,
  headers: Record<string, string | string[] | undefined> | Headers,
  body: string | Uint8Array,
  options: VerifyOptions = {},
): Promise<string> {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatureHeader = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatureHeader)
    throw new WebhookVerificationError('missing webhook headers');
  const timestamp = Number(timestampText);
  if (!Number.isInteger(timestamp)) throw new WebhookVerificationError('invalid webhook-timestamp');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - timestamp) > tolerance)
    throw new WebhookVerificationError('webhook-timestamp out of tolerance');

  const expected = base64Decode((await signature(secret, id, timestamp, body)).slice('v1,'.length));
  for (const candidate of signatureHeader.split(' ')) {
    const [version, encoded] = candidate.split(',', 2);
    if (version !== 'v1' || !encoded) continue;
    let given: Uint8Array;
    try {
      given = base64Decode(encoded);
    } catch {
      continue;
    }
    if (constantTimeEqual(given, expected)) return id;
  }
  throw new WebhookVerificationError('no matching signature');
}
