import dns2 from 'dns2';
import type { App } from '../../src/app.js';
import { addDomain } from '../../src/identity/companies/service.js';
import { verifyDomain } from '../../src/identity/companies/verification.js';

const { Packet } = dns2;

/**
 * A real DNS server on loopback (UDP, a port of its own) answering TXT questions from a table
 * the test edits: Monban's resolver is pointed at it (companies.dnsServers).
 */
export class TestDnsServer {
  readonly #txt = new Map<string, string[][]>();
  #server: ReturnType<typeof dns2.createServer> | undefined;
  address = '';

  /** Publishes (or, with no values, withdraws) the TXT records of a name. */
  setTxt(name: string, ...values: string[]): void {
    if (values.length)
      this.#txt.set(
        name.toLowerCase(),
        values.map((v) => [v]),
      );
    else this.#txt.delete(name.toLowerCase());
  }

  async start(): Promise<this> {
    this.#server = dns2.createServer({
      udp: true,
      handle: (request, send) => {
        const response = Packet.createResponseFromRequest(request);
        const [question] = request.questions;
        if (question && question.type === Packet.TYPE.TXT) {
          for (const data of this.#txt.get(question.name.toLowerCase()) ?? [])
            response.answers.push({
              name: question.name,
              type: Packet.TYPE.TXT,
              class: Packet.CLASS.IN,
              ttl: 1,
              data,
              // dns2's typings ask for the encoder it adds itself when the packet is written.
            } as unknown as (typeof response.answers)[number]);
        }
        void send(response);
      },
    });
    const addresses = (await this.#server.listen({ udp: { port: 0, address: '127.0.0.1' } })) as {
      udp: { port: number };
    };
    this.address = `127.0.0.1:${addresses.udp.port}`;
    return this;
  }

  async stop(): Promise<void> {
    await this.#server?.close();
  }
}

/** Claims `domain` for the company, publishes its TXT record on `dns` and has Monban verify it (as the CLI). */
export async function proveDomain(app: App, dns: TestDnsServer, companyId: string, domain: string): Promise<void> {
  const view = await addDomain(app.db, companyId, domain, { actor: 'cli' });
  dns.setTxt(domain, view.txt_record.value);
  const verified = await verifyDomain(app.db, app.domainVerifier, companyId, domain, { actor: 'cli' });
  if (!verified.verified) throw new Error(`${domain} was not verified`);
}
