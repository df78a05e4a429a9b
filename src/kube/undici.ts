// The two parts of undici the client uses — the pooling Agent and the request API — loaded without
// the rest of the package, as registry/undici.ts does (importing 'undici' costs ~110 ms of CLI start-up).

import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

const load = createRequire(import.meta.url);

/** undici's Agent class, from its file; undici is pinned to 7.30.x in package.json so the path stays put. */
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof UndiciAgent;
/** An instance of undici's Agent. */
export type Agent = UndiciAgent;

const requestApi = load('undici/lib/api/api-request.js') as (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

/** undici's `request(url, options)` bound to an explicit dispatcher. */
export function request(url: URL, options: Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher }): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return requestApi.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}

export type { Dispatcher };
