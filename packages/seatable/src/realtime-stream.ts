import {
  Backoff,
  type BackoffOptions,
  type NormalizedEvent,
  type StreamContext,
  type StreamSource,
  type StreamState,
  sourceSubject,
  stampArrival,
} from '@herald/events';
import { io, type Socket } from 'socket.io-client';
import { BaseTokenError, describe, fetchBaseToken, type BaseToken } from './base-token-client.js';
import type { SeatableStreamConfig } from './config.js';
import { normalizeNotification } from './notification-normalizer.js';
import { bodyDigest, canonicalUuid } from './dedup-keys.js';
import {
  gapKey,
  gapKeyPrefix,
  normalizeSocketOperation,
  versionKeyPrefix,
  versionOfGapKey,
  versionOfKey,
} from './op-normalizer.js';
import { isRecord } from './op-types.js';
import type { SeatableGapData } from './types.js';

export interface RealtimeStreamOptions {
  backoff?: BackoffOptions;
  /** How long `join-room` may go unanswered before the connection counts as failed. */
  joinTimeoutMs?: number;
  /** Socket.IO connect timeout. */
  connectTimeoutMs?: number;
  /** Join attempts refused as `permission_denied`/`token_expired` (each with a fresh token) before giving up. */
  maxAuthFailures?: number;
  /** The base token is renewed this long before it expires. */
  tokenRefreshMarginMs?: number;
  /** Delay before retrying a failed renewal (also the shortest renewal delay). */
  tokenRefreshRetryMs?: number;
}

const HOUR_MS = 60 * 60 * 1000;
/** Join refusals that a fresh token should have fixed; anything else (load failures) is transient. */
const AUTH_ERROR_TYPES = new Set(['permission_denied', 'token_expired']);
const encoder = new TextEncoder();

type Phase = 'idle' | 'running' | 'auth_failed' | 'stopped';

/**
 * One SeaTable base's realtime Socket.IO stream. socket.io-client's own reconnection is off: every
 * reconnect goes through `connect()` so it gets a valid token, a fresh `join-room` and a reported state.
 */
export class SeatableRealtimeStream implements StreamSource {
  private phase: Phase = 'idle';
  private socket: Socket | undefined;
  private token: BaseToken | undefined;
  private tokenRequest: Promise<BaseToken> | undefined;
  private reconnectTimer: unknown;
  private refreshTimer: unknown;
  /** Highest base version seen (from ops or join acks); undefined until the first join or op. */
  private lastVersion: number | undefined;
  /**
   * The base version when this run began listening: the first join's, or one before the first op
   * when an op beat the join's ack. Compared with the stored checkpoint once, at the first join.
   */
  private runStartVersion: number | undefined;
  private firstJoinDone = false;
  /** The newest op version stored before this run, read before the first socket can receive an op. */
  private checkpoint: Promise<number | undefined> | undefined;
  private authFailures = 0;
  /** In the base's room: the socket has what it needs, whatever becomes of the token. */
  private joined = false;
  private emitQueue: Promise<void> = Promise.resolve();
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private readonly joinTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxAuthFailures: number;
  private readonly refreshMarginMs: number;
  private readonly refreshRetryMs: number;
  /** Waits between failed renewals: from `refreshRetryMs` up to an hour, so a revoked token is not asked every minute for ever. */
  private readonly renewalBackoff: Backoff;
  /** The last renewal was refused while the socket went on: the status says so until one succeeds. */
  private renewalRefused = false;

  constructor(
    private readonly config: SeatableStreamConfig,
    private readonly ctx: StreamContext,
    options: RealtimeStreamOptions = {},
  ) {
    this.backoff = new Backoff({ initialMs: 1_000, maxMs: 60_000, ...options.backoff }, ctx.random);
    this.joinTimeoutMs = options.joinTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.maxAuthFailures = options.maxAuthFailures ?? 3;
    this.refreshMarginMs = options.tokenRefreshMarginMs ?? 6 * HOUR_MS;
    this.refreshRetryMs = options.tokenRefreshRetryMs ?? 60_000;
    this.renewalBackoff = new Backoff({ initialMs: this.refreshRetryMs, maxMs: 3_600_000 }, ctx.random);
  }

  start(): void {
    if (this.phase !== 'idle') return;
    this.phase = 'running';
    this.run('connect', () => this.connect());
  }

  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.abort.abort();
    this.cancelTimers();
    this.closeSocket();
    await this.emitQueue;
    this.report('stopped');
  }

  private get running(): boolean {
    return this.phase === 'running';
  }

  private async connect(): Promise<void> {
    this.report('connecting');
    let token: BaseToken;
    try {
      token = await this.baseToken();
    } catch (error) {
      return this.onTokenFailure(error);
    }
    if (!this.running) return;
    this.checkpoint ??= this.readCheckpoint(token.dtableUuid);
    const socket = io(new URL(this.config.serverUrl).origin, {
      // The URL's path would be taken as a namespace: the api-gateway path goes in `path`.
      path: this.config.socketPath,
      // Sent as the server gave it: clusters route on it and `join-room` compares it as a string.
      query: { dtable_uuid: token.dtableUuid },
      reconnection: false,
      forceNew: true,
      timeout: this.connectTimeoutMs,
      transports: ['websocket', 'polling'],
      tryAllTransports: true,
    });
    this.socket = socket;
    socket.on('connect', () => this.run('join-room', () => this.join(socket)));
    socket.on('connect_error', (error) => this.onSocketLost(socket, `connection failed: ${error.message}`));
    // 'io server disconnect' included: socket.io never reconnects that one by itself.
    socket.on('disconnect', (reason) => this.onSocketLost(socket, `disconnected: ${reason}`));
    socket.on('update-dtable', (operation: unknown, version: unknown) =>
      this.guarded('update-dtable', () => this.onOperation(operation, version)),
    );
    socket.on('new-notification', (notification: unknown) =>
      this.guarded('new-notification', () => this.onNotification(notification)),
    );
  }

  private async join(socket: Socket): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let token: BaseToken;
      try {
        token = await this.baseToken(attempt > 1);
      } catch (error) {
        if (socket === this.socket) this.onTokenFailure(error);
        return;
      }
      if (socket !== this.socket) return;
      let ack: unknown;
      try {
        ack = await socket
          .timeout(this.joinTimeoutMs)
          .emitWithAck('join-room', token.dtableUuid, token.accessToken);
      } catch {
        return this.onSocketLost(socket, `join-room was not answered within ${this.joinTimeoutMs} ms`);
      }
      if (socket !== this.socket) return;
      const answer = isRecord(ack) ? ack : {};
      if (answer.status) return this.onJoined(answer);

      const errorType = typeof answer.error_type === 'string' ? answer.error_type : 'unknown';
      const reason = `join-room refused: ${errorType}${typeof answer.message === 'string' ? ` (${answer.message})` : ''}`;
      if (attempt === 1 && AUTH_ERROR_TYPES.has(errorType)) {
        // Usually a stale or revoked base token: retry once with a fresh one before backing off. Other
        // refusals go straight to a reconnect: the server does not answer another join on this socket.
        this.ctx.logger.warn({ errorType }, 'SeaTable join-room refused; renewing the base token');
        continue;
      }
      if (AUTH_ERROR_TYPES.has(errorType) && ++this.authFailures >= this.maxAuthFailures) {
        return this.fail(
          `${reason}; refused ${this.authFailures} times in a row even with fresh base tokens`,
        );
      }
      return this.onSocketLost(socket, reason);
    }
  }

  private onJoined(ack: Record<string, unknown>): void {
    this.backoff.connected(this.ctx.clock.now());
    this.authFailures = 0;
    this.joined = true;
    this.report('connected');
    const version = ack.dtable_version;
    if (typeof version !== 'number' || !Number.isInteger(version)) return;
    if (!this.firstJoinDone) {
      this.firstJoinDone = true;
      this.resumeFrom(this.runStartVersion ?? version);
    } else if (this.lastVersion !== undefined && version > this.lastVersion) {
      // Ops made while we were away are never replayed: a newer version on rejoin means they are lost.
      this.enqueue([this.gapEvent(this.lastVersion, version, version - this.lastVersion, 'rejoin')]);
    }
    // An older version is not taken as the base going back: an op made just before the join may reach
    // the socket before the ack. If the base did go back, its next op shows it.
    this.lastVersion = Math.max(this.lastVersion ?? version, version);
  }

  /**
   * The base is at an older version than one seen before: restored from a snapshot. Its next ops count
   * from there again, and gaps are judged from there; their dedup keys differ from the ops stored
   * under the same versions before (see `normalizeSocketOperation`).
   */
  private wentBack(fromVersion: number, toVersion: number): void {
    this.ctx.logger.warn(
      { fromVersion, toVersion },
      'SeaTable base version went back (the base was restored?); following it from there',
    );
  }

  private onOperation(operation: unknown, version: unknown): void {
    if (!this.running || !this.token) return;
    const text = typeof operation === 'string' ? operation : JSON.stringify(operation);
    const events: NormalizedEvent[] = [];
    const opVersion = typeof version === 'number' && Number.isInteger(version) ? version : null;
    if (opVersion !== null) {
      this.runStartVersion ??= opVersion - 1;
      if (this.lastVersion !== undefined && opVersion > this.lastVersion + 1) {
        const missing = opVersion - this.lastVersion - 1;
        events.push(this.gapEvent(this.lastVersion, opVersion, missing, 'version_jump'));
      } else if (this.lastVersion !== undefined && opVersion < this.lastVersion) {
        this.wentBack(this.lastVersion, opVersion);
      }
      this.lastVersion = opVersion;
    }
    const op = parseJsonObject(text);
    const raw = encoder.encode(text ?? '');
    const event =
      op && normalizeSocketOperation({ dtableUuid: this.token.dtableUuid, op, version: opVersion, raw });
    if (event) events.push(event);
    else {
      this.ctx.logger.warn(
        op ? { opType: op.op_type } : { operation: text?.slice(0, 200) },
        op ? 'SeaTable op without a usable op_type' : 'SeaTable op is not a JSON object',
      );
      events.push(
        this.undecodableOp(opVersion, { body: raw, contentType: op ? 'application/json' : 'text/plain' }),
      );
    }
    this.enqueue(events);
  }

  /**
   * An op received but not understood is still a change to the base that no event describes: a gap
   * of one, with the op's bytes, rather than a log line only (and, for one that is not JSON, a later
   * `version_jump` calling it never received).
   */
  private undecodableOp(version: number | null, raw: NonNullable<NormalizedEvent['raw']>): NormalizedEvent {
    const at = version ?? this.lastVersion ?? 0;
    const gap = this.gapEvent(version === null ? at : at - 1, at, 1, 'undecodable');
    return {
      ...gap,
      // Its bytes tell two such ops apart when neither has a version (the same `at`).
      dedupKey: `${gap.dedupKey}:undecodable:${bodyDigest(raw.body)}`,
      raw,
    };
  }

  private onNotification(notification: unknown): void {
    if (!this.running) return;
    const text = typeof notification === 'string' ? notification : JSON.stringify(notification);
    const parsed = parseJsonObject(text);
    if (!parsed) {
      this.ctx.logger.warn({}, 'SeaTable notification is not a JSON object');
      return;
    }
    this.enqueue([normalizeNotification(parsed, encoder.encode(text))]);
  }

  private gapEvent(
    fromVersion: number,
    toVersion: number,
    missing: number,
    reason: SeatableGapData['reason'],
  ) {
    const dtableUuid = this.token?.dtableUuid ?? '';
    const data: SeatableGapData = {
      dtableUuid: canonicalUuid(dtableUuid),
      fromVersion,
      toVersion,
      missing,
      reason,
    };
    this.ctx.logger.warn(data, 'SeaTable base versions were missed');
    // A restart with no new ops finds the same gap again: the key makes storing it twice a no-op.
    return {
      type: 'herald.source.gap',
      subject: sourceSubject(this.ctx.sourceId),
      data: { ...data },
      dedupKey: gapKey(dtableUuid, toVersion),
    };
  }

  /**
   * The newest version accounted for: stored as an op, or reported missing by a gap. From the op alone,
   * a `resume` gap counted again the versions a `rejoin` gap had reported just before.
   */
  private async readCheckpoint(dtableUuid: string): Promise<number | undefined> {
    try {
      const [op, gap] = await Promise.all([
        this.ctx.lastDedupKey(versionKeyPrefix(dtableUuid)),
        this.ctx.lastDedupKey(gapKeyPrefix(dtableUuid)),
      ]);
      const versions = [
        op === null ? undefined : versionOfKey(op, dtableUuid),
        gap === null ? undefined : versionOfGapKey(gap, dtableUuid),
      ].filter((version) => version !== undefined);
      return versions.length === 0 ? undefined : Math.max(...versions);
    } catch (error) {
      this.ctx.logger.warn({ err: error }, 'could not read the newest stored SeaTable base version');
      return undefined;
    }
  }

  /**
   * First join of this run: compares the version the run began at with the newest one stored before
   * it (by any earlier run or instance). Queued ahead of the ops that arrive after the ack, so the gap
   * is stored before them; an op that beat the ack is stored first.
   */
  private resumeFrom(startVersion: number): void {
    const checkpoint = this.checkpoint;
    const receivedAt = new Date(this.ctx.clock.now());
    this.queue(['herald.source.gap'], async () => {
      const stored = await checkpoint;
      if (stored !== undefined && startVersion > stored) {
        const gap = this.gapEvent(stored, startVersion, startVersion - stored, 'resume');
        await this.ctx.emit([{ ...gap, receivedAt }]);
      } else if (stored !== undefined && startVersion < stored) {
        this.wentBack(stored, startVersion);
      }
    });
  }

  settled(): Promise<void> {
    return this.emitQueue;
  }

  /** Emits in arrival order (see `queue`). */
  private enqueue(events: NormalizedEvent[]): void {
    stampArrival(events, this.ctx.clock);
    this.queue(
      events.map((event) => event.type),
      () => this.ctx.emit(events),
    );
  }

  /** Runs `store` after everything queued before it; a failure is logged and the queue goes on (the gateway retries inside emit). */
  private queue(types: string[], store: () => Promise<void>): void {
    this.emitQueue = this.emitQueue
      .then(store)
      .catch((error: unknown) =>
        this.ctx.logger.error({ err: error, types }, 'SeaTable events could not be stored'),
      );
  }

  /** The cached base token while it is comfortably valid; `renew` fetches a new one regardless. */
  private async baseToken(renew = false): Promise<BaseToken> {
    const valid = this.token && this.ctx.clock.now() < this.token.expiresAt - this.refreshMarginMs;
    if (this.token && valid && !renew) return this.token;
    this.tokenRequest ??= this.requestToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return this.tokenRequest;
  }

  private async requestToken(): Promise<BaseToken> {
    const token = await fetchBaseToken(this.config, { now: this.ctx.clock.now(), signal: this.abort.signal });
    if (this.running) {
      this.token = token;
      this.scheduleRefresh(token);
    }
    return token;
  }

  /** The socket only checks the token at `join-room`, so a renewal just keeps a valid one for the next join. */
  private scheduleRefresh(token: BaseToken): void {
    this.ctx.clock.clearTimeout(this.refreshTimer);
    const lifetime = token.expiresAt - this.ctx.clock.now();
    const delay = Math.max(
      this.refreshRetryMs,
      lifetime > 2 * this.refreshMarginMs ? lifetime - this.refreshMarginMs : lifetime / 2,
    );
    this.refreshTimer = this.ctx.clock.setTimeout(() => {
      this.refreshTimer = undefined;
      this.run('token refresh', () => this.refreshToken());
    }, delay);
  }

  private async refreshToken(): Promise<void> {
    try {
      await this.baseToken(true);
      this.ctx.logger.info({}, 'SeaTable base token renewed');
      this.renewalBackoff.reset();
      if (this.renewalRefused && this.joined) this.report('connected');
      this.renewalRefused = false;
    } catch (error) {
      if (!this.running) return;
      const refused = error instanceof BaseTokenError && error.isAuthRefusal;
      // SeaTable checks the token at join-room only, so a refused renewal does not end a joined socket
      // (a passing refusal would otherwise stop a healthy stream): the next join, which needs a token, decides.
      if (refused && !this.joined) return this.onTokenFailure(error);
      this.ctx.logger.warn(
        { err: describe(error) },
        refused
          ? 'SeaTable refused to renew the base token; the joined socket goes on'
          : 'SeaTable base token renewal failed',
      );
      if (refused) {
        // Still connected, but the status says what the next connection will meet.
        this.renewalRefused = true;
        this.report(
          'connected',
          `SeaTable refused to renew the base token (HTTP ${error.status}); the joined socket goes on, but a reconnect needs a token SeaTable takes`,
        );
      }
      this.refreshTimer = this.ctx.clock.setTimeout(() => {
        this.refreshTimer = undefined;
        this.run('token refresh', () => this.refreshToken());
      }, this.renewalBackoff.next());
    }
  }

  private onTokenFailure(error: unknown): void {
    if (!this.running) return;
    if (error instanceof BaseTokenError && error.isAuthRefusal) {
      // The status's lastError is read through the API: SeaTable's own message only (see `seatableReason`).
      this.ctx.logger.warn(
        { status: error.status, body: error.bodyExcerpt },
        'SeaTable refused the API token',
      );
      const reason = error.reason ? `: ${error.reason}` : '';
      return this.fail(`SeaTable refused the API token (HTTP ${error.status})${reason}`);
    }
    this.closeSocket();
    this.scheduleReconnect(describe(error));
  }

  private onSocketLost(socket: Socket, reason: string): void {
    if (socket !== this.socket || !this.running) return;
    this.closeSocket();
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    if (!this.running || this.reconnectTimer !== undefined) return;
    const delay = this.backoff.next(this.ctx.clock.now());
    this.report('backoff', reason);
    this.reconnectTimer = this.ctx.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.running) this.run('connect', () => this.connect());
    }, delay);
  }

  /** Terminal until the source is restarted: retrying a refused credential only hammers SeaTable. */
  private fail(reason: string): void {
    this.phase = 'auth_failed';
    this.abort.abort();
    this.cancelTimers();
    this.closeSocket();
    this.report('auth_failed', reason);
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.joined = false;
    socket?.off();
    socket?.disconnect();
  }

  private cancelTimers(): void {
    this.ctx.clock.clearTimeout(this.reconnectTimer);
    this.ctx.clock.clearTimeout(this.refreshTimer);
    this.reconnectTimer = undefined;
    this.refreshTimer = undefined;
  }

  private report(state: StreamState, reason?: string): void {
    this.ctx.setState(reason === undefined ? { state } : { state, reason });
  }

  /** Runs async work whose failure must never escape: a bug becomes a logged error and a reconnect. */
  private run(task: string, work: () => Promise<void>): void {
    work().catch((error: unknown) => this.onUnexpected(task, error));
  }

  private guarded(task: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.onUnexpected(task, error);
    }
  }

  private onUnexpected(task: string, error: unknown): void {
    this.ctx.logger.error({ err: error }, `SeaTable stream: ${task} failed unexpectedly`);
    if (!this.running) return;
    this.closeSocket();
    this.scheduleReconnect(`${task} failed: ${describe(error)}`);
  }
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
