import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketServer, type Socket } from 'socket.io';
import { BASE_TOKEN_PATH } from '../base-token-client.js';
import { DEFAULT_SOCKET_PATH } from '../config.js';

export interface FakeSeatableServerOptions {
  /** API tokens the token exchange accepts. Default `['fake-api-token']`. */
  apiTokens?: string[];
  /** Sent back exactly like this by the token exchange. Default a dashed uuid. */
  dtableUuid?: string;
  /** Lifetime of issued base tokens (the JWT `exp`). Default 3 days, like SeaTable. */
  tokenLifetimeMs?: number;
  /** The server's clock, for `exp` and expiry checks; pass a test's fake clock. Default `Date.now`. */
  now?: () => number;
  /** The token response's `use_api_gateway`. Default true (SeaTable ≥ 5). */
  useApiGateway?: boolean;
  /** Base version before the first op. Default 100. */
  initialVersion?: number;
  socketPath?: string;
}

export interface FakeJoinFailure {
  /** `permission_denied`, `token_expired`, `dtable_load_failed`, `internal_error`, ... */
  errorType: string;
  message?: string;
  /** How many joins fail before they succeed again. Default: all. */
  times?: number;
}

export interface FakeRefusal {
  status: number;
  body?: string;
}

export interface RecordedToast {
  route: 'api-gateway' | 'classic';
  dtableUuid: string;
  authorization: string | undefined;
  body: unknown;
}

export interface FakeSeatableCounters {
  tokenRequests: number;
  /** Token exchanges answered 401 for an API token the server does not know. */
  unknownApiTokens: number;
  /** Socket.IO connections accepted. */
  connections: number;
  joinAttempts: number;
  joins: number;
}

interface IssuedToken {
  expiresAt: number;
  revoked: boolean;
}

/**
 * A SeaTable stand-in on 127.0.0.1 speaking the parts of the protocol the adapter uses: the API-token
 * exchange, the api-gateway Socket.IO endpoint (`join-room` with ack, `update-dtable`,
 * `new-notification`, server-side disconnects) and the `ui-toasts` endpoints.
 */
export class FakeSeatableServer {
  readonly counters: FakeSeatableCounters = {
    tokenRequests: 0,
    unknownApiTokens: 0,
    connections: 0,
    joinAttempts: 0,
    joins: 0,
  };
  readonly toasts: RecordedToast[] = [];
  readonly apiTokens: Set<string>;
  readonly dtableUuid: string;
  version: number;
  /** When set, the token exchange answers with this instead of a token. */
  tokenRefusal: FakeRefusal | undefined;
  /** When set, `join-room` acks `{status: 0, error_type}`. */
  joinFailure: FakeJoinFailure | undefined;
  /** False: `join-room` is never acknowledged (to test the join timeout). */
  answerJoins = true;
  /** Runs once a socket is in the room, just before its join is acked: an op sent here beats the ack. */
  beforeJoinAck: (() => void) | undefined;
  /** When set, both toast endpoints answer with this. */
  toastRefusal: FakeRefusal | undefined;
  /** False: the api-gateway toast route answers 404 (an older server). */
  apiGatewayToasts = true;
  private readonly issued = new Map<string, IssuedToken>();
  private readonly signingKey = randomBytes(32);
  private readonly now: () => number;
  private readonly tokenLifetimeMs: number;
  private readonly useApiGateway: boolean;

  private readonly http = createServer((request, response) => this.handleHttp(request, response));
  private readonly io: SocketServer;

  private constructor(options: FakeSeatableServerOptions) {
    this.apiTokens = new Set(options.apiTokens ?? ['fake-api-token']);
    this.dtableUuid = options.dtableUuid ?? '7c2a1f6e-3b4d-4e5f-8a9b-0c1d2e3f4a5b';
    this.now = options.now ?? Date.now;
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? 3 * 24 * 60 * 60 * 1000;
    this.useApiGateway = options.useApiGateway ?? true;
    this.version = options.initialVersion ?? 100;
    // Attached after the REST handler exists: Socket.IO wraps the request listeners present then.
    this.io = new SocketServer(this.http, {
      path: options.socketPath ?? DEFAULT_SOCKET_PATH,
      serveClient: false,
    });
    this.io.on('connection', (socket) => this.handleSocket(socket));
  }

  static async start(options: FakeSeatableServerOptions = {}): Promise<FakeSeatableServer> {
    const server = new FakeSeatableServer(options);
    await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
    return server;
  }

  /** `http://127.0.0.1:<port>`, the `serverUrl` to configure. */
  get url(): string {
    const { port } = this.http.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Sockets that joined the base's room and receive broadcasts. */
  async joinedSocketCount(): Promise<number> {
    return (await this.io.in(this.dtableUuid).fetchSockets()).length;
  }

  /** Makes every base token issued so far invalid at `join-room` (and for toasts). */
  revokeIssuedTokens(): void {
    for (const token of this.issued.values()) token.revoked = true;
  }

  /**
   * Broadcasts one op to the base's room as `update-dtable` (JSON string, version) and returns the
   * version. `skipVersions` advances the version first, as if other ops were missed.
   */
  /** Sends an op (a string as it is, e.g. one that is not JSON) at the next version; returns it. */
  broadcastOp(op: Record<string, unknown> | string, options: { skipVersions?: number } = {}): number {
    this.version += (options.skipVersions ?? 0) + 1;
    this.io
      .to(this.dtableUuid)
      .emit('update-dtable', typeof op === 'string' ? op : JSON.stringify(op), this.version);
    return this.version;
  }

  /** Ops made while nobody listened: only the version moves. */
  advanceVersion(by: number): void {
    this.version += by;
  }

  /** The base restored from a snapshot: its version goes back, and the next op counts from there. */
  restoreVersion(version: number): void {
    this.version = version;
  }

  sendNotification(notification: Record<string, unknown>): void {
    this.io.to(this.dtableUuid).emit('new-notification', JSON.stringify(notification));
  }

  /** Server-side disconnect of every socket (clients see `io server disconnect`). */
  disconnectAll(): void {
    this.io.disconnectSockets(true);
  }

  async close(): Promise<void> {
    this.io.disconnectSockets(true);
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
  }

  private handleSocket(socket: Socket): void {
    this.counters.connections++;
    socket.on('join-room', (dtableUuid: unknown, accessToken: unknown, ack: unknown) => {
      this.counters.joinAttempts++;
      if (!this.answerJoins || typeof ack !== 'function') return;
      const failure = this.joinRefusal(dtableUuid, accessToken);
      if (failure) {
        ack({ status: 0, ...failure });
        return;
      }
      this.counters.joins++;
      void socket.join(this.dtableUuid);
      this.beforeJoinAck?.();
      ack({ status: 1, message: 'Joined successfully', dtable_version: this.version });
    });
  }

  private joinRefusal(
    dtableUuid: unknown,
    accessToken: unknown,
  ): { error_type: string; message: string } | undefined {
    if (this.joinFailure) {
      const { errorType, message = 'join refused by the fake server', times } = this.joinFailure;
      if (times !== undefined && times <= 1) this.joinFailure = undefined;
      else if (times !== undefined) this.joinFailure = { ...this.joinFailure, times: times - 1 };
      return { error_type: errorType, message };
    }
    if (typeof accessToken !== 'string' || !this.isValidBaseToken(accessToken)) {
      return { error_type: 'token_expired', message: 'Token expired or invalid' };
    }
    if (dtableUuid !== this.dtableUuid)
      return { error_type: 'permission_denied', message: 'Permission denied' };
    return undefined;
  }

  private handleHttp(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', this.url).pathname;
    if (request.method === 'GET' && path === BASE_TOKEN_PATH)
      return this.handleTokenExchange(request, response);
    const toast = /^\/(?:(api-gateway)\/api\/v2|dtable-server\/api\/v1)\/dtables\/([^/]+)\/ui-toasts\/$/.exec(
      path,
    );
    if (request.method === 'POST' && toast) {
      const route = toast[1] ? 'api-gateway' : 'classic';
      if (route === 'api-gateway' && !this.apiGatewayToasts)
        return reply(response, 404, { detail: 'Not found' });
      return this.handleToast(request, response, route, decodeURIComponent(toast[2] ?? ''));
    }
    reply(response, 404, { detail: 'Not found' });
  }

  private handleTokenExchange(request: IncomingMessage, response: ServerResponse): void {
    this.counters.tokenRequests++;
    if (this.tokenRefusal) return replyText(response, this.tokenRefusal.status, this.tokenRefusal.body ?? '');
    const apiToken = /^(?:Token|Bearer) (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!apiToken || !this.apiTokens.has(apiToken)) {
      this.counters.unknownApiTokens++;
      return reply(response, 401, { detail: 'Invalid token' });
    }
    reply(response, 200, {
      app_name: 'herald-test',
      access_token: this.issueBaseToken(),
      dtable_uuid: this.dtableUuid,
      dtable_server: `${this.url}/dtable-server/`,
      dtable_socket: `${this.url}/`,
      dtable_db: `${this.url}/dtable-db/`,
      workspace_id: 1,
      dtable_name: 'Fake base',
      use_api_gateway: this.useApiGateway,
    });
  }

  private handleToast(
    request: IncomingMessage,
    response: ServerResponse,
    route: RecordedToast['route'],
    dtableUuid: string,
  ): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      this.toasts.push({ route, dtableUuid, authorization: request.headers.authorization, body });
      if (this.toastRefusal)
        return replyText(response, this.toastRefusal.status, this.toastRefusal.body ?? '');
      const baseToken = /^Token (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!baseToken || !this.isValidBaseToken(baseToken))
        return reply(response, 401, { error_msg: 'Token expired' });
      if (dtableUuid !== this.dtableUuid) return reply(response, 403, { error_msg: 'Permission denied' });
      reply(response, 200, { success: true });
    });
  }

  private issueBaseToken(): string {
    const expiresAt = this.now() + this.tokenLifetimeMs;
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({
      exp: Math.floor(expiresAt / 1000),
      dtable_uuid: this.dtableUuid,
      username: '',
      permission: 'rw',
      app_name: 'herald-test',
      // Unique even within one second, as real tokens issued at different times are.
      jti: randomBytes(6).toString('hex'),
    })}`;
    const token = `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
    this.issued.set(token, { expiresAt: Math.floor(expiresAt / 1000) * 1000, revoked: false });
    return token;
  }

  private isValidBaseToken(token: string): boolean {
    const issued = this.issued.get(token);
    return issued !== undefined && !issued.revoked && this.now() < issued.expiresAt;
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  replyText(response, status, JSON.stringify(body), 'application/json');
}

function replyText(response: ServerResponse, status: number, body: string, contentType = 'text/plain'): void {
  response.writeHead(status, { 'content-type': contentType }).end(body);
}
