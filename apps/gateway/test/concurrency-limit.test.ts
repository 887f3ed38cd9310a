import { describe, expect, it } from '@jest/globals';
import { ConcurrencyLimit } from '../src/common/concurrency-limit.js';

/** A task that records when it starts and ends when `release` is called. */
function gatedTask(log: string[], name: string) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      log.push(name);
      await gate;
      return name;
    },
    release: () => release(),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe(ConcurrencyLimit.name, () => {
  it('runs at most its limit at once, and the rest as places free up', async () => {
    const limit = new ConcurrencyLimit(2);
    const started: string[] = [];
    const tasks = ['a', 'b', 'c', 'd'].map((name) => gatedTask(started, name));
    const results = tasks.map(({ task }) => limit.run('k', task));
    await settle();
    expect(started).toEqual(['a', 'b']);
    tasks[0]!.release();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    for (const { release } of tasks) release();
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('gives freed places to the keys in turn, so one key with many tasks cannot hold the line', async () => {
    const limit = new ConcurrencyLimit(1);
    const started: string[] = [];
    const flood = Array.from({ length: 5 }, (_, i) => gatedTask(started, `flood${i}`));
    const floodDone = flood.map(({ task }) => limit.run('flood', task));
    const other = gatedTask(started, 'other');
    const otherDone = limit.run('other', other.task);
    await settle();
    flood[0]!.release();
    await settle();
    // The one waiting task of the other key goes before the flood's four others.
    expect(started).toEqual(['flood0', 'other']);
    other.release();
    for (const { release } of flood) release();
    await Promise.all([...floodDone, otherDone]);
    expect(started).toEqual(['flood0', 'other', 'flood1', 'flood2', 'flood3', 'flood4']);
  });

  it('frees its place when a task fails', async () => {
    const limit = new ConcurrencyLimit(1);
    await expect(limit.run('k', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(limit.run('k', async () => 'next')).resolves.toBe('next');
  });
});
