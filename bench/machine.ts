/**
 * What makes one machine's figures differ from another's beyond its CPU model: the kernel, its
 * Meltdown mitigation (page-table isolation makes every system call and interrupt dearer, and
 * some hypervisors make a guest use it even on CPUs that need none) and the clock source, and a
 * measured price of a loopback round trip, back to back and after the processes slept. Results
 * from two machines compare only when these are alike: the same code's ratios moved by a third
 * between two 2-vCPU machines.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import os from 'node:os';
import { threadCpuUs } from './cpu.js';

export interface MachineTraits {
  kernel: string;
  /** /sys/devices/system/cpu/vulnerabilities/meltdown, e.g. "Mitigation: PTI" or "Not affected". */
  meltdown: string;
  clocksource: string;
  /**
   * Whether the CPU offers process-context identifiers (the pcid flag). Without them, page-table
   * isolation empties the TLB at every system call and interrupt, and a process with a large
   * working set (Monban's code and heap against the bare library's) pays the most to refill it.
   * Undefined where /proc/cpuinfo cannot be read.
   */
  pcid?: boolean | undefined;
  /** CPU (user + system) of one TCP round trip over loopback, both ends in this process, in µs. */
  loopbackRoundTripCpuUs: number;
  /**
   * This thread's CPU for one round trip over loopback to another process, each after both have
   * slept 20 ms, in µs: what waking a process costs the waker where the vCPUs go idle between
   * requests, as they do while a login waits for bcrypt. Absent in older results.
   */
  wakeUpRoundTripCpuUs?: number;
}

function sysfs(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const ROUND_TRIPS = 5_000;
const MESSAGE = 'x'.repeat(200);

/** Sends ROUND_TRIPS small messages back and forth over one loopback connection; the CPU they took. */
async function loopbackRoundTripCpuUs(): Promise<number> {
  const server = createServer((socket) => socket.on('data', () => socket.write(MESSAGE)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const before = process.cpuUsage();
  await new Promise<void>((resolve) => {
    let left = ROUND_TRIPS;
    client.on('data', () => {
      left -= 1;
      if (left > 0) client.write(MESSAGE);
      else resolve();
    });
    client.write(MESSAGE);
  });
  const used = process.cpuUsage(before);
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return (used.user + used.system) / ROUND_TRIPS;
}

const WAKE_UPS = 100;
/** Before each wake-up round trip, both processes sleep this long (the report names it). */
export const WAKE_UP_IDLE_MS = 20;

/** An echo server in a process of its own; it prints its port. */
const ECHO = `const s = require('node:net').createServer((c) => { c.setNoDelay(true); c.on('data', (d) => c.write(d)); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

/** WAKE_UPS round trips to an echo process, each after WAKE_UP_IDLE_MS of sleep; this thread's CPU per round trip. */
async function wakeUpRoundTripCpuUs(): Promise<number> {
  const echo = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(echo.stdout, 'data')) as [Buffer];
    const client = connect(Number(line.toString().trim()), '127.0.0.1');
    client.setNoDelay(true);
    await once(client, 'connect');
    const roundTrip = () => {
      const answered = once(client, 'data');
      client.write(MESSAGE);
      return answered;
    };
    for (let i = 0; i < 20; i += 1) await roundTrip();
    let spent = 0;
    for (let i = 0; i < WAKE_UPS; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, WAKE_UP_IDLE_MS));
      const before = threadCpuUs();
      await roundTrip();
      spent += threadCpuUs() - before;
    }
    client.destroy();
    return spent / WAKE_UPS;
  } finally {
    echo.kill();
  }
}

function hasPcid(): boolean | undefined {
  const flags = /^flags\s*:(.*)$/m.exec(sysfs('/proc/cpuinfo'))?.[1];
  return flags === undefined ? undefined : flags.split(' ').includes('pcid');
}

export async function machineTraits(): Promise<MachineTraits> {
  return {
    kernel: os.release(),
    meltdown: sysfs('/sys/devices/system/cpu/vulnerabilities/meltdown'),
    pcid: hasPcid(),
    clocksource: sysfs('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
    loopbackRoundTripCpuUs: await loopbackRoundTripCpuUs(),
    wakeUpRoundTripCpuUs: await wakeUpRoundTripCpuUs(),
  };
}
