import { passwordHashSlots, sizeThreadpool, threadpoolSize } from '../../src/config/threadpool.js';

describe("libuv's thread pool", () => {
  it("is sized one thread above libuv's 4 or the cores, unless the operator set UV_THREADPOOL_SIZE", () => {
    const sized = (env: NodeJS.ProcessEnv, cores: number) => {
      sizeThreadpool(env, cores);
      return env.UV_THREADPOOL_SIZE;
    };
    expect(sized({}, 2)).toBe('5');
    expect(sized({}, 8)).toBe('9');
    expect(sized({ UV_THREADPOOL_SIZE: '2' }, 8)).toBe('2');
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
