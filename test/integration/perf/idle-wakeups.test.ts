import { setTimeout as sleep } from 'node:timers/promises';
import { mainThreadWakeUps } from '../../../bench/cpu.js';
import { freePort } from '../../helpers/app.js';
import { ChildServer, sharedDeployment, type SharedDeployment } from '../../helpers/child-server.js';

/**
 * An idle Monban lets its main thread sleep. prom-client's event-loop lag sampler, left at its
 * default of 10 ms, woke it 100 times a second (about 1,000 wake-ups in 10 s, 7 ms of CPU a
 * second); on a loaded server each of those is a context switch the logins pay for.
 */
(process.platform === 'linux' ? describe : describe.skip)('an idle server (a real child process)', () => {
  let deployment: SharedDeployment;
  let server: ChildServer;
  let origin: string;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    deployment = await sharedDeployment(origin);
    server = await ChildServer.start(port, deployment.env);
  }, 300_000);

  afterAll(async () => {
    await server?.kill();
    await deployment?.close();
  });

  it("wakes its main thread a few times a second, not a hundred, and still reports the event loop's lag", async () => {
    await sleep(1_000); // what the start left to do
    const before = mainThreadWakeUps([server.pid]);
    await sleep(3_000);
    const wakeUps = mainThreadWakeUps([server.pid]) - before;
    expect(wakeUps).toBeLessThan(3 * 25);

    const text = await (await fetch(`${origin}/metrics`)).text();
    const p99 = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
    expect(p99).not.toBeNull();
    expect(Number(p99![1])).toBeGreaterThan(0);
  }, 60_000);
});
