import { passwordHashSlots, runningPoolThreads, sizeThreadpool, threadpoolSize } from '../../src/config/threadpool.js';

describe("libuv's thread pool", () => {
  it("is sized one thread above libuv's 4 or the cores, unless the operator set UV_THREADPOOL_SIZE", () => {
    const sized = (env: NodeJS.ProcessEnv, cores: number, running = 0) => {
      sizeThreadpool(env, cores, running);
      return env.UV_THREADPOOL_SIZE;
    };
    expect(sized({}, 2)).toBe('5');
    expect(sized({}, 8)).toBe('9');
    expect(sized({ UV_THREADPOOL_SIZE: '2' }, 8)).toBe('2');
    // Already running (a loader started it): its size cannot change, and the hashes count on it.
    expect(sized({}, 8, 4)).toBe('4');
  });

  it("counts the pool's threads already running in this process", async () => {
    // Jest's process has used the pool by now (its own reads, this file's): libuv's 4 threads.
    const { pbkdf2 } = await import('node:crypto');
    await new Promise((resolve) => pbkdf2('a', 'b', 1, 32, 'sha256', resolve));
    expect(runningPoolThreads()).toBe(threadpoolSize());
  });

  it('leaves one of its threads free of password hashes, as libuv reads the setting', () => {
    expect([threadpoolSize({}), passwordHashSlots({})]).toEqual([4, 3]);
    expect([threadpoolSize({ UV_THREADPOOL_SIZE: '9' }), passwordHashSlots({ UV_THREADPOOL_SIZE: '9' })]).toEqual([
      9, 8,
    ]);
    // A pool of one thread still hashes; libuv caps the pool at 1024 and ignores what is not a number.
    expect(passwordHashSlots({ UV_THREADPOOL_SIZE: '1' })).toBe(1);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: 'many' })).toBe(4);
  });
});
