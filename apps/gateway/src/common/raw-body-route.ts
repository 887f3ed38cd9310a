/** Fastify route config flag of routes whose JSON bodies stay raw bytes (see `registerBodyParsers`). */
export const RAW_BODY_ROUTE = 'herald:raw-body-route';

declare module 'fastify' {
  interface FastifyContextConfig {
    [RAW_BODY_ROUTE]?: boolean;
  }
}
