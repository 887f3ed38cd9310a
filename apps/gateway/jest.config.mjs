import { jestConfig } from '../../jest.config.base.mjs';

export default jestConfig({
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  testTimeout: 60_000,
  maxWorkers: 2,
  // A worker that has run a dozen gateway suites can take longer than Jest's default 500 ms to exit, and
  // is then force-killed with a warning that reads like a leak. None is left: after every file's
  // teardown only the worker's stdio and IPC pipes remain (docs/performance.md, eleventh session), and
  // given 10 s the workers exited with the run no longer than before. A real leak still shows after 5 s.
  workerGracefulExitTimeout: 5_000,
});
