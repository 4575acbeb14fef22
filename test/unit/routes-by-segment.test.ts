import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { routesBySegment } from '../../src/http/routes-by-segment.js';

/** The page routers, each skipped at once for paths none of its routes begins with: no route lost. */
describe('routers skipped by the first segment of the path', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];
  beforeAll(async () => {
    const flows = new Router({ prefix: '/interaction/:uid' });
    flows.use(async (ctx, next) => {
      seen.push(`flows middleware ${ctx.path}`);
      await next();
    });
    flows.post('/email', (ctx) => (ctx.body = `email step of ${ctx.params.uid}`));
    const help = new Router();
    help.get('/help', (ctx) => (ctx.body = 'help'));
    help.get('/', (ctx) => (ctx.body = 'home'));
    const anything = new Router();
    anything.get('/:page', (ctx) => (ctx.body = `page ${ctx.params.page}`));

    const app = new Koa();
    app.use(routesBySegment(flows));
    app.use(routesBySegment(help));
    app.use(routesBySegment(anything));
    app.use((ctx) => {
      ctx.body = `passed on: ${ctx.path}`;
    });
    const handle = app.callback();
    server = createServer((req, res) => void handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const text = async (path: string, method = 'GET') => (await fetch(`${base}${path}`, { method })).text();

  it('serves every route as the router alone would, whatever the case of the path', async () => {
    expect(await text('/interaction/abc/email', 'POST')).toBe('email step of abc');
    expect(await text('/Interaction/abc/EMAIL', 'POST')).toBe('email step of abc');
    expect(await text('/HELP')).toBe('help');
    expect(await text('/')).toBe('home');
  });

  it("passes other paths on, without running a router's own middleware", async () => {
    seen.length = 0;
    expect(await text('/interaction/abc/nothing', 'POST')).toBe('passed on: /interaction/abc/nothing');
    expect(await text('/auth')).toBe('page auth'); // the router with a parameter first is asked
    expect(await text('/auth/abc/def')).toBe('passed on: /auth/abc/def');
    expect(seen).toEqual([]);
  });
});
