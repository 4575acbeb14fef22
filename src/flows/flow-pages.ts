import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { seeOther, setSignedCookie } from '../http/page.js';
import { withLang } from '../http/url.js';
import type { FlowDefinition } from './kernel/define.js';
import { FlowExpired } from './kernel/flow-expired.js';
import { findFlow, loadFlow, type FlowRecord } from './kernel/store.js';
import { openLogin, type OpenLogin } from './login-link.js';

export interface FlowPagesDeps {
  config: Readonly<Config>;
  db: Db;
  provider: Provider;
}

export interface FlowPagesOptions<S extends string, C> {
  flow: FlowDefinition<S, C>;
  /** The signed cookie that holds this browser's flow id, and the path it is scoped to. */
  cookie: string;
  path: string;
  /**
   * The flow's first page, shown again when the flow ended under the user: `notice` is the
   * flow's message, `login` the RP's login the user came from (still waiting).
   */
  restart(ctx: Context, notice: AppError, login: OpenLogin | undefined): Promise<void> | void;
  /** Whether a live flow is this request's (e.g. the signed-in account's); others count as ended. */
  owns?(ctx: Context, flow: FlowRecord<S, C>): boolean;
}

interface FlowState<S extends string, C> {
  flow?: FlowRecord<S, C>;
  flowLogin?: { login: OpenLogin | undefined };
}

/**
 * What every flow's pages share, as a list of small middlewares (the shape of oidc-provider's
 * request pipeline): the browser's flow cookie, `load` (the live flow into ctx.state once per
 * request), `requireState` (a page for its states only), and `restartExpired`, the one answer
 * to FlowExpired: the flow's first page with its message, for the same waiting login.
 */
export function flowPages<S extends string, C>(deps: FlowPagesDeps, options: FlowPagesOptions<S, C>) {
  const { flow: def } = options;
  const state = (ctx: Context) => ctx.state as FlowState<S, C>;
  const cookieId = (ctx: Context) => ctx.cookies.get(options.cookie, { signed: true }) || undefined;

  const pages = {
    /** The flow id this browser's signed cookie names, live or not. */
    cookieId,

    /** Binds the flow to this browser; null forgets it. */
    setCookie: (ctx: Context, flowId: string | null): void => {
      setSignedCookie(ctx, deps.config, options.cookie, flowId, {
        path: options.path,
        maxAgeMs: def.ttlSeconds(deps.config) * 1000,
      });
    },

    /** Middleware: this browser's live flow into ctx.state (read once); FlowExpired when there is none. */
    load: async (ctx: Context, next: Next): Promise<void> => {
      const flow = await loadFlow(deps.db, def, cookieId(ctx));
      if (options.owns && !options.owns(ctx, flow)) throw new FlowExpired(def.kind);
      state(ctx).flow = flow;
      await next();
    },

    /** The flow `load` put on this request. */
    current: (ctx: Context): FlowRecord<S, C> => {
      const flow = state(ctx).flow;
      if (!flow) throw new Error(`${def.kind}: pages.load must run before this page`);
      return flow;
    },

    /** Middleware: a page for some states; in another live state the browser goes to that state's page. */
    requireState: (states: readonly S[], pageOf: Partial<Record<S, string>>) => {
      return async (ctx: Context, next: Next): Promise<void> => {
        const flow = pages.current(ctx);
        if (states.includes(flow.state)) {
          await next();
          return;
        }
        seeOther(ctx, withLang(ctx, pageOf[flow.state] ?? options.path));
      };
    },

    /** The RP's login this request's flow came from (read once), if it still waits. */
    login: async (ctx: Context): Promise<OpenLogin | undefined> => {
      const memo = state(ctx).flowLogin;
      if (memo) return memo.login;
      const login = await openLogin(deps, (pages.current(ctx).context as { interaction?: unknown }).interaction);
      state(ctx).flowLogin = { login };
      return login;
    },

    /** The login of this browser's flow, also once it ended ("start again" keeps it), else the query's. */
    loginOfCookie: async (ctx: Context): Promise<OpenLogin | undefined> => {
      const id = cookieId(ctx);
      const found = id ? await findFlow(deps.db, def, id) : undefined;
      const fromFlow = (found?.flow.context as { interaction?: unknown } | undefined)?.interaction;
      return openLogin(deps, fromFlow ?? ctx.query.interaction);
    },

    /** Middleware, first on the flow's routes: FlowExpired anywhere below starts the flow again. */
    restartExpired: async (ctx: Context, next: Next): Promise<void> => {
      try {
        await next();
      } catch (err) {
        if (!(err instanceof FlowExpired) || err.kind !== def.kind) throw err;
        pages.setCookie(ctx, null);
        const login = await openLogin(deps, err.interaction ?? ctx.query.interaction);
        await options.restart(ctx, new AppError(def.expired), login);
      }
    },
  };
  return pages;
}
