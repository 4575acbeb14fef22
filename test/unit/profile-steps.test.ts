import { profileByStep, type CpuProfile } from '../../bench/profile-steps.js';
import type { Arrival } from '../../bench/steps.js';

/** The benchmark's CPU profile of logins one at a time, split by the request step each sample fell in. */
describe('a CPU profile split by login step', () => {
  const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(idle)') },
      { id: 2, callFrame: frame('submitPassword', 'file:///work/main/dist/src/interactions/login.js') },
      { id: 3, callFrame: frame('parse', 'file:///work/main/node_modules/@koa/router/lib/layer.js') },
      { id: 4, callFrame: frame('writeUtf8String') },
    ],
    startTime: 1_000,
    // Samples at 1,100 (before the first request), 1,200, 1,300 (idle), 1,350, 1,500 and 1,700.
    samples: [2, 2, 1, 3, 4, 2],
    timeDeltas: [100, 100, 100, 50, 150, 200],
  };
  const arrivals: Arrival[] = [
    [1_150, 'POST /interaction/:id/password'],
    [1_350, 'POST /token'],
    [1_600, 'POST /interaction/:id/password'],
  ];

  it('charges each sample to the step whose request arrived last before it, idle and earlier samples left out', () => {
    const steps = profileByStep(profile, arrivals);

    expect(steps).toEqual([
      {
        step: 'POST /interaction/:id/password',
        requests: 2,
        sampledMs: 0.3, // 1,200 (100 µs) and 1,700 (200 µs); 1,300 was idle
        functions: [['submitPassword (src/interactions/login.js)', 0.3]],
      },
      {
        step: 'POST /token',
        requests: 1,
        sampledMs: 0.2, // 1,350 (a request arriving at a sample's time has it) and 1,500
        functions: [
          ['writeUtf8String (V8)', 0.15],
          ['parse (@koa/router)', 0.05],
        ],
      },
    ]);
  });
});
