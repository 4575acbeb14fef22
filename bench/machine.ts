/**
 * What makes one machine's figures differ from another's beyond its CPU model: the kernel, its
 * Meltdown mitigation (page-table isolation makes every system call and interrupt dearer, and
 * some hypervisors make a guest use it even on CPUs that need none) and the clock source, and a
 * measured price of a loopback round trip. Results from two machines compare only when these
 * are alike: the same code's ratios moved by a third between two 2-vCPU machines.
 */
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import os from 'node:os';

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
  };
}
