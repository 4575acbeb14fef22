/** One series' value (its name and labels exactly as /metrics shows them) on a server's /metrics; 0 before it exists. */
export async function metricValue(origin: string, series: string): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}
