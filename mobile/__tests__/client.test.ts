import { Api, ApiError } from '../src/api/client';
import { auth, engagement, money, tickets } from '../src/api/endpoints';
import { fakeFetch, json, memoryStore, reply } from './helpers';

const BASE = 'http://server.test';

describe('Api client', () => {
  it('adopts a login and sends the bearer token', async () => {
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.url.endsWith('/api/auth/login') ? json(200, reply('a1', 'r1')) : json(200, { tickets: [] }),
    );
    const store = memoryStore();
    const api = new Api(() => BASE, store, { fetch: fetchImpl });
    await auth.login(api, 'fan@example.test', 'secret-pass');
    await tickets.mine(api);
    expect(calls[0].headers.Authorization).toBeUndefined();
    expect(calls[1].url).toBe(`${BASE}/api/tickets`);
    expect(calls[1].headers.Authorization).toBe('Bearer a1');
    expect(store.saved.at(-1)?.refresh).toBe('r1');
  });

  it('turns the error shape into a human message with its code', async () => {
    const { fetchImpl } = fakeFetch(() => json(409, { error: { code: 'sold_out', message: 'no seats left' } }));
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl });
    const err = await tickets.purchase(api, 'e1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(409);
    expect((err as ApiError).code).toBe('sold_out');
    expect((err as ApiError).message).toBe('This event is sold out.');
  });

  it('falls back to the server message for unknown codes, and reads Retry-After', async () => {
    const { fetchImpl } = fakeFetch(() =>
      json(429, { error: { code: 'weird_limit', message: 'slow down please' } }, { 'Retry-After': '7' }),
    );
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl });
    const err = (await api.get('/api/x').catch((e: unknown) => e)) as ApiError;
    expect(err.message).toBe('Slow down please');
    expect(err.retryAfter).toBe(7);
  });

  it('survives a non-JSON error page', async () => {
    const { fetchImpl } = fakeFetch(() => new Response('<html>bad gateway</html>', { status: 502 }));
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl });
    const err = (await api.get('/api/x').catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('http_502');
    expect(err.message).toMatch(/server/);
  });

  it('reports a network failure as offline', async () => {
    const api = new Api(() => BASE, memoryStore(), {
      fetch: (async () => {
        throw new TypeError('Network request failed');
      }) as typeof fetch,
    });
    const err = (await api.get('/api/live').catch((e: unknown) => e)) as ApiError;
    expect(err.offline).toBe(true);
    expect(err.message).toMatch(/reach the server/);
  });

  it('refreshes once on a 401 and retries with the rotated token', async () => {
    let refreshes = 0;
    const { fetchImpl, calls } = fakeFetch((call) => {
      if (call.url.endsWith('/api/auth/refresh')) {
        refreshes += 1;
        expect(call.body).toEqual({ refresh: 'r1' });
        return json(200, reply('a2', 'r2'));
      }
      return call.headers.Authorization === 'Bearer a2' ? json(200, { tickets: [] }) : json(401, { error: { code: 'invalid_token', message: 'expired' } });
    });
    const store = memoryStore({ access: 'a1', refresh: 'r1', expiresAt: Date.now() + 600_000, user: reply('', '').user });
    const api = new Api(() => BASE, store, { fetch: fetchImpl });
    await api.restore();
    // Three requests at once meet the dead token: one rotation serves them all (a second
    // use of r1 would revoke the whole family).
    await Promise.all([tickets.mine(api), tickets.mine(api), tickets.mine(api)]);
    expect(refreshes).toBe(1);
    expect(api.current?.refresh).toBe('r2');
    expect(calls.filter((c) => c.headers.Authorization === 'Bearer a2')).toHaveLength(3);
  });

  it('refreshes ahead of expiry without a failed request', async () => {
    let now = 1_000_000;
    const { fetchImpl, calls } = fakeFetch((call) =>
      call.url.endsWith('/api/auth/refresh') ? json(200, reply('a2', 'r2')) : json(200, { tickets: [] }),
    );
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl, now: () => now });
    await api.adopt(reply('a1', 'r1', 60));
    await tickets.mine(api);
    expect(calls.map((c) => c.url.replace(BASE, ''))).toEqual(['/api/tickets']);
    now += 45_000; // 15 s left: inside the margin
    await tickets.mine(api);
    expect(calls.map((c) => c.url.replace(BASE, ''))).toEqual(['/api/tickets', '/api/auth/refresh', '/api/tickets']);
    expect(calls[2].headers.Authorization).toBe('Bearer a2');
  });

  it('ends the session when the refresh token is refused', async () => {
    const { fetchImpl } = fakeFetch((call) =>
      call.url.endsWith('/api/auth/refresh')
        ? json(401, { error: { code: 'token_reused', message: 'refresh token already used' } })
        : json(401, { error: { code: 'invalid_token', message: 'revoked' } }),
    );
    const store = memoryStore();
    const api = new Api(() => BASE, store, { fetch: fetchImpl });
    await api.adopt(reply('a1', 'r1'));
    const seen: unknown[] = [];
    api.subscribe((s) => seen.push(s));
    const err = (await tickets.mine(api).catch((e: unknown) => e)) as ApiError;
    expect(err.sessionExpired).toBe(true);
    expect(err.message).toMatch(/sign in again/);
    expect(api.current).toBeNull();
    expect(store.saved.at(-1)).toBeNull();
    expect(seen).toEqual([null]);
  });

  it('keeps the session when the refresh fails for lack of network', async () => {
    const api = new Api(() => BASE, memoryStore(), {
      fetch: (async (input: RequestInfo | URL) => {
        if (String(input).endsWith('/api/auth/refresh')) throw new TypeError('offline');
        return json(401, { error: { code: 'invalid_token', message: 'x' } });
      }) as typeof fetch,
    });
    await api.adopt(reply('a1', 'r1'));
    const err = (await tickets.mine(api).catch((e: unknown) => e)) as ApiError;
    expect(err.offline).toBe(true);
    expect(api.current?.refresh).toBe('r1');
  });

  it('logs out on the server and forgets the session even if the server is unreachable', async () => {
    const { fetchImpl, calls } = fakeFetch(() => json(200, {}));
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl });
    await api.adopt(reply('a1', 'r1'));
    await auth.logout(api);
    expect(calls[0].url).toBe(`${BASE}/api/auth/logout`);
    expect(calls[0].body).toEqual({ refresh: 'r1' });
    expect(api.current).toBeNull();

    await api.adopt(reply('a2', 'r2'));
    await auth.logout(api, true);
    expect(calls[1].url).toBe(`${BASE}/api/auth/logout`);
    expect(calls[1].body).toEqual({ everywhere: true });
    expect(api.current).toBeNull();

    const offline = new Api(() => BASE, memoryStore(), {
      fetch: (async () => {
        throw new TypeError('offline');
      }) as typeof fetch,
    });
    await offline.adopt(reply('a1', 'r1'));
    await expect(auth.logout(offline)).rejects.toBeInstanceOf(ApiError);
    expect(offline.current).toBeNull();
  });

  it('sends the contract names for tips and engagement', async () => {
    const { fetchImpl, calls } = fakeFetch(() => json(200, { tip_id: 't', client_secret: null, provider: 'dev', status: 'succeeded' }));
    const api = new Api(() => BASE, memoryStore(), { fetch: fetchImpl });
    await money.tip(api, { artistId: 'a', amount: 250, currency: 'EUR', videoId: 'v' });
    await engagement.watchtime(api, 'v', 12);
    await engagement.like(api, 'v', true);
    expect(calls.map((c) => [c.url.replace(BASE, ''), c.body])).toEqual([
      ['/api/tips', { artistId: 'a', amount: 250, currency: 'EUR', videoId: 'v' }],
      ['/api/recommendation/video/v/watchtime', { secondsWatched: 12 }],
      ['/api/recommendation/video/v/like', { liked: true }],
    ]);
  });
});

describe('Api client at start', () => {
  it('holds requests made while the saved session loads, then sends them signed', async () => {
    const { fetchImpl, calls } = fakeFetch(() => json(200, { tickets: [] }));
    let release: (s: unknown) => void = () => undefined;
    const slowStore = {
      load: () => new Promise((resolve) => (release = resolve)),
      save: async () => undefined,
    } as unknown as ReturnType<typeof memoryStore>;
    const api = new Api(() => BASE, slowStore, { fetch: fetchImpl });
    const restored = api.restore();
    const pending = tickets.mine(api);
    await Promise.resolve();
    expect(calls).toHaveLength(0);
    release({ access: 'a1', refresh: 'r1', expiresAt: Date.now() + 600_000, user: reply('', '').user });
    await restored;
    await pending;
    expect(calls[0].headers.Authorization).toBe('Bearer a1');
  });
});
