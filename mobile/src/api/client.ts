// The one HTTP client of the app: JSON in and out, bearer tokens, silent refresh with the
// rotating refresh token, and every failure turned into an ApiError with a human message.
import type { Session, SessionReply } from './types';
import { humanMessage } from './messages';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  get offline(): boolean {
    return this.code === 'offline';
  }

  get sessionExpired(): boolean {
    return this.code === 'session_expired';
  }
}

export interface SessionStore {
  load(): Promise<Session | null>;
  save(session: Session | null): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  auth?: boolean;
  signal?: AbortSignal;
}

type Fetch = typeof fetch;

// Refresh a little before the access token runs out, so a request never carries a dead one.
const REFRESH_MARGIN_MS = 30_000;

export class Api {
  private session: Session | null = null;
  private refreshing: Promise<Session> | null = null;
  private restoring: Promise<Session | null> | null = null;
  private listeners = new Set<(session: Session | null) => void>();
  private readonly fetchImpl: Fetch;
  private readonly now: () => number;

  constructor(
    private readonly baseUrl: () => string,
    private readonly store: SessionStore,
    options: { fetch?: Fetch; now?: () => number } = {},
  ) {
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  get current(): Session | null {
    return this.session;
  }

  url(path: string): string {
    return path.startsWith('http') ? path : this.baseUrl() + path;
  }

  /** Loads the saved session once; requests made meanwhile wait for it instead of going out bare. */
  restore(): Promise<Session | null> {
    if (!this.restoring) {
      this.restoring = (async () => {
        const saved = await this.store.load().catch(() => null);
        // A sign-in that finished while the store was read wins over what was saved before.
        if (!this.session && saved) {
          this.session = saved;
          this.emit();
        }
        return this.session;
      })();
    }
    return this.restoring;
  }

  subscribe(listener: (session: Session | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async adopt(reply: SessionReply): Promise<Session> {
    const session: Session = {
      access: reply.access,
      refresh: reply.refresh,
      expiresAt: this.now() + reply.expires_in * 1000,
      user: reply.user,
    };
    this.session = session;
    await this.store.save(session);
    this.emit();
    return session;
  }

  async clear(): Promise<void> {
    this.session = null;
    await this.store.save(null);
    this.emit();
  }

  /** A fresh access token, refreshing first when it is about to expire (null: signed out). */
  async accessToken(): Promise<string | null> {
    await this.restore();
    if (!this.session) return null;
    if (this.session.expiresAt - this.now() < REFRESH_MARGIN_MS) {
      await this.refresh();
    }
    return this.session?.access ?? null;
  }

  /** Rotates the refresh token; concurrent callers share one rotation (a reuse would revoke). */
  refresh(): Promise<Session> {
    if (!this.refreshing) {
      this.refreshing = this.rotate().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async rotate(): Promise<Session> {
    const spent = this.session;
    if (!spent) throw new ApiError(401, 'session_expired', humanMessage('session_expired'));
    let reply: SessionReply;
    try {
      reply = await this.send<SessionReply>('POST', '/api/auth/refresh', {
        body: { refresh: spent.refresh },
        auth: false,
      });
    } catch (err) {
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        await this.clear();
        throw new ApiError(401, 'session_expired', humanMessage('session_expired'));
      }
      throw err;
    }
    return this.adopt(reply);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    await this.restore();
    const auth = options.auth ?? true;
    if (!auth || !this.session) return this.send<T>(method, path, options);
    await this.accessToken();
    try {
      return await this.send<T>(method, path, options);
    } catch (err) {
      // The access token can die early (logout elsewhere, role change): one refresh, one retry.
      if (err instanceof ApiError && err.status === 401 && this.session) {
        await this.refresh();
        return this.send<T>(method, path, options);
      }
      throw err;
    }
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  patch<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body });
  }

  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }

  delete<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /** One raw request with the session's bearer (for tus, whose answers are headers). */
  async raw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const token = (options.auth ?? true) ? await this.accessToken() : null;
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), {
        method,
        headers,
        body: options.rawBody,
        signal: options.signal,
      });
    } catch (err) {
      throw offline(err);
    }
    if (!response.ok) throw await toError(response);
    return response;
  }

  private async send<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if ((options.auth ?? true) && this.session) {
      headers.Authorization = `Bearer ${this.session.access}`;
    }
    let body: BodyInit | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(this.url(path), {
        method,
        headers,
        body,
        signal: options.signal,
      });
    } catch (err) {
      throw offline(err);
    }
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as unknown as T;
    }
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this.session);
  }
}

function offline(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new ApiError(0, 'aborted', 'Cancelled.');
  }
  return new ApiError(0, 'offline', humanMessage('offline'));
}

async function toError(response: Response): Promise<ApiError> {
  let code = `http_${response.status}`;
  let message: string | undefined;
  try {
    const data: unknown = await response.json();
    const error = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (error && typeof error.code === 'string') code = error.code;
    if (error && typeof error.message === 'string') message = error.message;
  } catch {
    // Not JSON (a proxy's page): the status alone must do.
  }
  const retry = response.headers.get('Retry-After');
  const retryAfter = retry && /^\d+$/.test(retry) ? Number(retry) : null;
  return new ApiError(response.status, code, humanMessage(code, message, response.status), retryAfter);
}
