import {
  containerMemoryLimit,
  defaultWorkerCount,
  WORKER_MEMORY_BYTES,
  workerV8Flags,
} from '../../src/config/worker-memory.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('workers under a container memory limit', () => {
  it('sees a limit only where the cgroup sets one below the machine’s memory', () => {
    expect(containerMemoryLimit(0, 16 * GiB)).toBeUndefined(); // no cgroup
    expect(containerMemoryLimit(2 ** 44, 16 * GiB)).toBeUndefined(); // a cgroup whose limit is "max"
    expect(containerMemoryLimit(512 * MiB, 16 * GiB)).toBe(512 * MiB);
  });

  it('runs one worker per core, no more than the limit gives 512 MiB each, and at least one', () => {
    expect(WORKER_MEMORY_BYTES).toBe(512 * MiB);
    expect(defaultWorkerCount(8, undefined)).toBe(8);
    expect(defaultWorkerCount(8, 1 * GiB)).toBe(2);
    expect(defaultWorkerCount(8, 300 * MiB)).toBe(1);
    expect(defaultWorkerCount(2, 8 * GiB)).toBe(2);
  });

  it('gives each worker half its share of the limit for the old generation and a 16 MiB young generation', () => {
    expect(workerV8Flags(2, { limit: 1 * GiB, given: '' })).toEqual([
      '--max-old-space-size=256',
      '--max-semi-space-size=16',
    ]);
    expect(workerV8Flags(4, { limit: 4 * GiB, given: '--enable-source-maps' })).toEqual([
      '--max-old-space-size=512',
      '--max-semi-space-size=16',
    ]);
  });

  it('keeps the flags an operator set (NODE_OPTIONS or the command line), and sets none without a limit', () => {
    expect(workerV8Flags(2, { limit: 1 * GiB, given: '--max-semi-space-size=8' })).toEqual([
      '--max-old-space-size=256',
    ]);
    expect(workerV8Flags(2, { limit: 1 * GiB, given: '--max-old-space-size=700 --max-semi-space-size=32' })).toEqual(
      [],
    );
    expect(workerV8Flags(2, { limit: 1 * GiB, given: '--max_old_space_size=700' })).toEqual([
      '--max-semi-space-size=16',
    ]);
    expect(workerV8Flags(2, { limit: undefined, given: '' })).toEqual([]);
  });
});
