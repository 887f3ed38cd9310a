import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest, RawServerDefault } from 'fastify';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger } from 'pino';
import type { ProviderAdapter } from '@herald/events';
import { AppModule } from './app.module.js';
import { ClusterBus } from './cluster/cluster-bus.js';
import { ClusterIoAdapter } from './cluster/cluster-io-adapter.js';
import { ANSWER_HEADERS } from './common/answer-headers.js';
import { refuseUnreadableBodies } from './common/body-encoding.js';
import { assertUsableJson } from './common/json-depth.js';
import { pinoLoggerService, quietBootLogger } from './common/quiet-boot-logger.js';
import { RAW_BODY_ROUTE } from './common/raw-body-route.js';
import { documentScopes } from './common/auth/scope-docs.js';
import { closeRequestSchemas } from './common/closed-request-schemas.js';
import { REQUEST_ID_HEADER, requestIdOf } from './common/request-id.js';
import { answerClientError } from './common/errors/client-error-answer.js';
import { ErrorCode } from './common/errors/error-code.js';
import { HeraldException, type ProblemFieldError } from './common/errors/herald-exception.js';
import { RouteMethods } from './common/routing/route-methods.js';
import { AdapterRegistry } from './adapters/adapter-registry.js';
import { documentSourceActions } from './sources/source-actions.docs.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ProblemDetailsFilter, sendProblem } from './common/errors/problem-details.filter.js';
import type { HeraldConfig } from './config/herald-config.js';
import { DrainState } from './health/drain-state.js';
import { documentIngestRoute } from './ingest/ingest.route.js';

/** RFC 8259: JSON between systems is UTF-8. A byte-order mark is skipped, as the RFC allows. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Raw bodies for provider webhooks: JSON and text keep Nest's parsers (DTO validation still works)
 * and every other type arrives as a Buffer; all of them get `rawBody` for signature checks. JSON bodies
 * of routes flagged `RAW_BODY_ROUTE` (ingest) are not parsed here: their adapter parses the raw bytes
 * itself (and reports malformed JSON), and parsing them twice was 5% of the gateway's CPU under ingest
 * load.
 */
function registerBodyParsers(app: NestFastifyApplication, bodyLimit: number): void {
  const parseJson = app.getHttpAdapter().getInstance().getDefaultJsonParser('error', 'error');
  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (request, body, done) => {
    if (request.routeOptions.config[RAW_BODY_ROUTE]) return done(null, body);
    // Clients that label every request JSON send body-less ones (a retry, a rotation) that way too.
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      // Decoded leniently, its bad bytes became U+FFFD and the request was stored as something else
      // than what the client sent, without a word.
      return done(new HeraldException(ErrorCode.InvalidJson, 'The request body is not valid UTF-8.'));
    }
    parseJson(request, text, (error, parsed) => {
      if (error) return done(isJson(text) ? prototypeKeyRefused() : error);
      try {
        assertUsableJson(parsed, 'body');
        done(null, parsed);
      } catch (refused) {
        done(refused as Error);
      }
    });
  });
  for (const type of ['application/x-www-form-urlencoded', 'text/plain', '*']) {
    app.useBodyParser(type, { bodyLimit });
  }
}

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Fastify's parser refuses `__proto__` and `constructor.prototype` keys (prototype poisoning) as "not JSON". */
const prototypeKeyRefused = () =>
  HeraldException.validation(
    'The body holds a "__proto__" key or a "constructor" key with a "prototype" in it; Herald refuses both.',
    [{ field: 'body', message: 'must not use __proto__ or constructor.prototype as keys' }],
  );

/**
 * Headers every answer carries (`ANSWER_HEADERS`), set in one hook (it runs for every request, ingest
 * included), and from SIGTERM on `connection: close`. The instance keeps serving through the delivery
 * grace, and a client reusing a keep-alive connection to it would otherwise send its next request just
 * as the server closes, and lose it to a reset; a new connection goes where the balancer sends it now.
 */
function setAnswerHeaders(app: NestFastifyApplication): void {
  const drain = app.get(DrainState);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      // Named one by one: `reply.headers` would list the object's keys on every request.
      reply.header('cache-control', ANSWER_HEADERS['cache-control']);
      reply.header(REQUEST_ID_HEADER, request.id);
      reply.header('x-content-type-options', ANSWER_HEADERS['x-content-type-options']);
      if (drain.active) reply.header('connection', 'close');
      done();
    });
}

/**
 * Makes the server's closing of idle connections take those on which not one byte has arrived too.
 * Node 20 counts such a connection as busy from its accept on, so the server's close waited for it as
 * long as the client kept it open: Node's fetch keeps one for the keep-alive time Fastify announces,
 * 72 s less its 2 s margin. Clients hold such connections more often than it seems: a browser's
 * preconnect, a balancer's spare one, and Node's fetch, which connects again for a request whose
 * response body was cancelled (or collected unread) and then sends nothing on the new connection
 * (nodejs/undici#5845). Nothing is lost: no request was begun on it. The server's `close()` calls this,
 * whoever closes it first (socket.io's close, which Nest runs before Fastify's, does).
 */
function closeUnusedConnectionsWithIdleOnes(app: NestFastifyApplication): void {
  const server: Server = app.getHttpServer();
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  const closeIdleConnections = server.closeIdleConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdleConnections();
    for (const socket of connections) if (socket.bytesRead === 0) socket.destroy();
  };
}

interface AnswerCounters {
  answer(request: FastifyRequest, reply: FastifyReply): void;
  /** Node's answer to bytes no request came of (`answerClientError`): no method or route is known. */
  refusal(status: number): void;
}

const NOT_COUNTED: AnswerCounters = { answer: () => undefined, refusal: () => undefined };

/**
 * Counts every answer by its route's pattern, never its URL: an ingest URL carries its source's token,
 * and per-URL series would grow without bound.
 */
function countRequests(app: NestFastifyApplication): AnswerCounters {
  const { httpRequests, httpRequestSeconds } = app.get(MetricsService);
  const counters: AnswerCounters = {
    answer: (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      httpRequests.inc({ method: request.method, route, status: reply.statusCode });
      httpRequestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    },
    refusal: (status) => httpRequests.inc({ method: 'unknown', route: 'unmatched', status }),
  };
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onResponse', (request, reply, done) => {
      counters.answer(request, reply);
      done();
    });
  return counters;
}

/**
 * CORS answers for the origins an operator names (`HERALD_CORS_ORIGINS`), so an admin tool served
 * from another origin can call the REST API from a browser; none by default. Keys travel in the
 * `Authorization` header, never in cookies, so no credentials are allowed.
 */
function allowBrowserOrigins(app: NestFastifyApplication, origins: string[]): void {
  if (origins.length === 0) return;
  app.enableCors({
    origin: origins.includes('*') ? '*' : origins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key'],
    exposedHeaders: ['idempotent-replayed', 'retry-after', 'www-authenticate', 'allow', REQUEST_ID_HEADER],
    maxAge: 600,
    // An OPTIONS that is no preflight (no Origin) gets an empty 204 naming no origin, not the plugin's
    // plain-text 400, which no client of a problem-document API expects.
    strictPreflight: false,
  });
}

function registerDocs(app: NestFastifyApplication, config: HeraldConfig): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Herald')
      .setDescription('Self-hosted notification gateway: ingest, event log, fan-out, webhooks')
      .setVersion(config.version)
      .addBearerAuth({
        type: 'http',
        bearerFormat: 'hrld_… API key',
        description:
          'A Herald API key: an opaque `hrld_…` token from POST /v1/api-keys (or the admin key of the first start), not a JWT.',
      })
      .build(),
  );
  documentIngestRoute(document);
  documentSourceActions(document, app.get(AdapterRegistry).all);
  documentScopes(document);
  closeRequestSchemas(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json' });
}

/**
 * Checks of what kind a value is, in the order they are reported alone: a value of the wrong kind fails
 * every check of its size or finer format too (`5` for a description is "longer than 1000 characters"), and
 * only the first failed kind says what to fix.
 */
const KIND_CONSTRAINTS = [
  'isDefined',
  'isString',
  'isArray',
  'isObject',
  'isBoolean',
  'isInt',
  'isNumber',
  'isIso8601',
];

function flattenValidationError(error: ValidationError, prefix = ''): ProblemFieldError[] {
  const field = prefix + error.property;
  const constraints = error.constraints ?? {};
  const kind = KIND_CONSTRAINTS.find((name) => constraints[name] !== undefined);
  const messages = kind ? [constraints[kind]!] : Object.values(constraints);
  return [
    ...messages.map((message) => ({ field, message })),
    ...(error.children ?? []).flatMap((child) => flattenValidationError(child, `${field}.`)),
  ];
}

export interface CreateAppOptions {
  /** Replaces the provider adapters (tests use adapters with short timings). */
  adapters?: readonly ProviderAdapter[];
  /** The instance id its logs already carry (main.ts); a new one otherwise. */
  instanceId?: string;
}

export async function createApp(
  config: HeraldConfig,
  logger: Logger,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  // Fastify answers a URL it cannot route, and Node bytes that are no request, without running any hook,
  // the counter's included. The counter exists only once the application does, and no request comes
  // before it listens.
  let count = NOT_COUNTED;
  const adapter = new FastifyAdapter({
    bodyLimit: config.maxBodyBytes,
    // Fastify sets no limit: a client sending a body a byte at a time held its connection forever,
    // before any token was looked at. Node checks the limits every `connectionsCheckingInterval`.
    requestTimeout: config.requestTimeoutMs,
    http: {
      // Given here too: Node refuses a headersTimeout above the requestTimeout the server is built
      // with (its default, 300 s), and Fastify sets its own only afterwards.
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(config.requestTimeoutMs, 5_000),
    },
    trustProxy: config.trustProxy,
    genReqId: requestIdOf,
    return503OnClosing: true,
    // Fastify's own answers to a URL it cannot route (malformed `%ff`, a path segment over its length
    // limit) are not problem documents and repeat the path, which for an ingest URL holds the source's
    // token: these get a message of Herald's own, naming no part of the URL.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      sendProblem(
        HeraldException.validation(
          error.code === 'FST_ERR_BAD_URL'
            ? 'The request URL holds malformed percent-encoding.'
            : 'The request URL cannot be routed (a path segment is too long?).',
        ),
        request,
        reply,
        logger,
      );
      count.answer(request, reply);
    },
    clientErrorHandler: (error, socket) => {
      const status = answerClientError(error, socket, config.requestTimeoutMs / 1000);
      if (status !== null) count.refusal(status);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, logger, options.adapters, options.instanceId),
    adapter,
    {
      rawBody: true,
      // Written as they come (a database being waited for says so at each retry), as JSON.
      logger: quietBootLogger(pinoLoggerService(logger)),
      // Throw start-up errors to the caller (main stops the embedded Postgres and exits 1) instead of aborting.
      abortOnError: false,
    },
  );
  app.useLogger(quietBootLogger(app.get(NestPinoLogger)));
  app.useWebSocketAdapter(new ClusterIoAdapter(app, app.get(ClusterBus)));
  registerBodyParsers(app, config.maxBodyBytes);
  refuseUnreadableBodies(app.getHttpAdapter().getInstance());
  setAnswerHeaders(app);
  closeUnusedConnectionsWithIdleOnes(app);
  count = countRequests(app);
  const routes = RouteMethods.watch(app.getHttpAdapter().getInstance());
  app.useGlobalPipes(
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      exceptionFactory: (errors) =>
        HeraldException.validation(
          'The request is not valid.',
          errors.flatMap((error) => flattenValidationError(error)),
        ),
    }),
  );
  app.useGlobalFilters(new ProblemDetailsFilter(logger, routes));
  allowBrowserOrigins(app, config.corsOrigins);
  registerDocs(app, config);
  return app;
}
