import { readFileSync } from 'node:fs';

/**
 * `pnpm start`'s command line (`start:prod`: `node <flags> dist/main.js`), word by word. The tests, the
 * Docker image's test and the bench start the gateway from it, so they run it with production's flags.
 * The package manifest is one level up from both `src/start-command.ts` and its build in `dist/`.
 */
export const START_COMMAND: readonly string[] = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts['start:prod']!.split(' ');

/** The node flags of `START_COMMAND`. */
export const START_NODE_FLAGS: readonly string[] = START_COMMAND.slice(1, -1);
