import { Cluster, Redis } from 'ioredis';

/** A Redis server or a Redis Cluster: the app talks to either through the same commands. */
export type RedisClient = Redis | Cluster;

export interface RedisSettings {
  /** redis://, rediss:// (one server) or redis+cluster://, rediss+cluster:// (a cluster's seed node). */
  redisUrl?: string | undefined;
  /** Seed nodes of a cluster (host:port or redis:// URLs); any one of them is enough to find the rest. */
  redisClusterNodes?: readonly string[] | undefined;
}

const CLUSTER_SCHEME = /^(rediss?)\+cluster:/;

function seed(node: string): { host: string; port: number; tls: boolean; username: string; password: string } {
  const url = new URL(/^[a-z+]+:\/\//.test(node) ? node.replace(CLUSTER_SCHEME, '$1:') : `redis://${node}`);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    tls: url.protocol === 'rediss:',
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
}

/**
 * Connects to what the settings name; undefined when they name nothing (sessions then live in the
 * database). On one server, commands issued in the same tick of the event loop leave as one write
 * (ioredis' auto-pipelining): under load, many requests' commands share a system call and a round
 * trip. Not on a cluster: ioredis groups such a pipeline by slot and refuses one whose commands
 * it sorts into different groups ("All keys in the pipeline should belong to the same slots").
 */
export function connectRedis(settings: RedisSettings): RedisClient | undefined {
  const nodes = settings.redisClusterNodes?.length
    ? settings.redisClusterNodes
    : settings.redisUrl && CLUSTER_SCHEME.test(settings.redisUrl)
      ? [settings.redisUrl]
      : undefined;
  if (!nodes)
    return settings.redisUrl
      ? new Redis(settings.redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true })
      : undefined;
  const seeds = nodes.map(seed);
  const [first] = seeds;
  if (!first) return undefined;
  return new Cluster(
    seeds.map(({ host, port }) => ({ host, port })),
    {
      redisOptions: {
        maxRetriesPerRequest: 3,
        ...(first.username ? { username: first.username } : {}),
        ...(first.password ? { password: first.password } : {}),
        ...(first.tls ? { tls: {} } : {}),
      },
    },
  );
}
