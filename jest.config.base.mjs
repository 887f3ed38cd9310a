// Shared Jest setup: native ESM (Nest 12 is ESM-only and Node 20 cannot require(esm) inside Jest),
// TypeScript through @swc/jest with legacy decorators and metadata for Nest's DI.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
  },
];

// CommonJS packages that require() ESM-only ones must be compiled by swc too (pnpm paths).
const compiledDeps = ['content-disposition', '@fastify/static', '@fastify\\+static'];

export function jestConfig(overrides = {}) {
  return {
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: { '^.+\\.ts$': swc, '^.+\\.m?js$': swc },
    transformIgnorePatterns: [
      `/node_modules/(?!\\.pnpm|(${compiledDeps.join('|')})/)`,
      `/node_modules/\\.pnpm/(?!(${compiledDeps.join('|')})@)`,
    ],
    testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
    ...overrides,
  };
}
