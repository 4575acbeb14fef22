import type Provider from 'oidc-provider';
import type { Adapter } from 'oidc-provider';

type BuiltClient = NonNullable<Awaited<ReturnType<Provider['Client']['find']>>>;

/**
 * oidc-provider validates a client's metadata into a Client once, but finds that Client again at
 * every lookup by hashing the metadata's JSON (SHA-256 of a few KB, at every token request). Our
 * client adapter hands out the same metadata object until the client changes or its copy runs
 * out (ClientAdapter), so the built Client is kept per metadata object: a changed client is a new
 * object, built anew, and the old one is let go with it.
 */
export function keepBuiltClients(provider: Provider, clients: Pick<Adapter, 'find'>): void {
  const built = new WeakMap<object, BuiltClient>();
  const find = provider.Client.find.bind(provider.Client);
  provider.Client.find = async (id: string) => {
    // The account console's client is configured in oidc-provider itself, not in the adapter.
    const metadata = typeof id === 'string' && id !== '' ? await clients.find(id) : undefined;
    if (!metadata) return find(id);
    const kept = built.get(metadata);
    if (kept) return kept;
    const client = await find(id);
    if (client) built.set(metadata, client);
    return client;
  };
}
