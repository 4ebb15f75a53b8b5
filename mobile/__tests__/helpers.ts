import type { SessionStore } from '../src/api/client';
import type { Session } from '../src/api/types';

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (call: Call) => Response | Promise<Response>;

/** A fetch that records calls and answers from a handler (the server's side of the contract). */
export function fakeFetch(handler: Handler) {
  const calls: Call[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const call: Call = {
      method: init?.method ?? 'GET',
      url: String(input),
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : init?.body,
    };
    calls.push(call);
    return handler(call);
  }) as typeof fetch;
  return { fetchImpl, calls };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export function memoryStore(initial: Session | null = null): SessionStore & { saved: (Session | null)[] } {
  let value = initial;
  const saved: (Session | null)[] = [];
  return {
    saved,
    async load() {
      return value;
    },
    async save(session) {
      value = session;
      saved.push(session);
    },
  };
}

export const user = { id: 'u1', email: 'fan@example.test', display_name: 'Fan', role: 'fan' as const, created_at: '2026-01-01T00:00:00Z' };

export function reply(access: string, refresh: string, expiresIn = 900) {
  return { access, refresh, expires_in: expiresIn, token_type: 'Bearer', user };
}
