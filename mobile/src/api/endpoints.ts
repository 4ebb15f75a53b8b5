// Every route the app calls, typed, in one place.
import type { Api } from './client';
import type {
  Admission,
  Analytics,
  ArtistProfile,
  ChatMessage,
  Comment,
  CurrencyBalance,
  FeedItem,
  LiveEvent,
  Page,
  PlaybackGrant,
  Preferences,
  Purchase,
  QrCode,
  ReplayGrant,
  Session,
  SessionReply,
  Ticket,
  Tip,
  TipReply,
  User,
  Video,
} from './types';

const q = (params: Record<string, string | number | null | undefined>): string => {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
};

export const auth = {
  async login(api: Api, email: string, password: string): Promise<Session> {
    const reply = await api.post<SessionReply>('/api/auth/login', { email, password }, { auth: false });
    return api.adopt(reply);
  },
  async register(
    api: Api,
    fields: { email: string; password: string; display_name?: string; role: 'fan' | 'artist' },
  ): Promise<Session> {
    const body = { ...fields, display_name: fields.display_name || undefined };
    const reply = await api.post<SessionReply>('/api/auth/register', body, { auth: false });
    return api.adopt(reply);
  },
  forgot: (api: Api, email: string) =>
    api.post<unknown>('/api/auth/password/forgot', { email }, { auth: false }),
  reset: (api: Api, token: string, password: string) =>
    api.post<unknown>('/api/auth/password/reset', { token, password }, { auth: false }),
  me: (api: Api) => api.get<User>('/api/auth/me'),
  /** Revokes the access token and the whole refresh family (with `everywhere`, every session
   * of the account on every device), then forgets the session. */
  async logout(api: Api, everywhere = false): Promise<void> {
    const session = api.current;
    try {
      if (session) {
        await api.post('/api/auth/logout', everywhere ? { everywhere: true } : { refresh: session.refresh });
      }
    } finally {
      await api.clear();
    }
  },
};

export const live = {
  list: (api: Api) => api.get<{ events: LiveEvent[] }>('/api/live?limit=200', { auth: false }),
  mine: (api: Api) => api.get<{ events: LiveEvent[] }>('/api/live/mine'),
  get: (api: Api, id: string) => api.get<LiveEvent>(`/api/live/${id}`, { auth: false }),
  create: (
    api: Api,
    body: { title: string; description?: string; starts_at: string; price: number; currency: string; replay_access?: boolean },
  ) => api.post<LiveEvent>('/api/live/create', body),
  rotateKey: (api: Api, id: string) => api.post<LiveEvent>(`/api/live/${id}/stream-key`),
  cancel: (api: Api, id: string) => api.post<LiveEvent>(`/api/live/${id}/cancel`),
  playback: (api: Api, id: string, sessionId?: string) =>
    api.post<PlaybackGrant>(`/api/live/${id}/playback`, sessionId ? { session_id: sessionId } : {}),
  chat: (api: Api, id: string) =>
    api.get<{ event_id: string; messages: ChatMessage[] }>(`/api/live/${id}/chat`),
  viewers: (api: Api, id: string) =>
    api.get<{ event_id: string; viewers: number }>(`/api/live/${id}/viewers`, { auth: false }),
};

export const tickets = {
  purchase: (api: Api, eventId: string) =>
    api.post<Purchase>('/api/tickets/purchase', { event_id: eventId }),
  confirmDev: (api: Api, paymentId: string) =>
    api.post<{ ticket: Ticket }>(`/api/payments/dev/${paymentId}/confirm`, { outcome: 'succeed' }),
  mine: (api: Api) => api.get<{ tickets: Ticket[] }>('/api/tickets'),
  get: (api: Api, id: string) => api.get<Ticket>(`/api/tickets/${id}`),
  qr: (api: Api, id: string) => api.get<QrCode>(`/api/tickets/${id}/qr?format=json`),
  validate: (api: Api, code: string, eventId?: string) =>
    api.post<Admission>('/api/tickets/validate', eventId ? { code, event_id: eventId } : { code }),
  reenter: (api: Api, id: string) => api.post<Admission>(`/api/tickets/${id}/reenter`),
  replay: (api: Api, eventId: string) => api.get<ReplayGrant>(`/api/replays/${eventId}`),
};

export const videos = {
  get: (api: Api, id: string) => api.get<Video>(`/api/videos/${id}`),
  update: (api: Api, id: string, fields: Partial<Pick<Video, 'title' | 'description' | 'realm' | 'visibility' | 'tags'>>) =>
    api.patch<Video>(`/api/videos/${id}`, fields),
  remove: (api: Api, id: string) => api.delete<void>(`/api/videos/${id}`),
  playback: (api: Api, id: string) =>
    api.post<{ url: string; expires_at: string | number }>(`/api/videos/${id}/playback`),
  byArtist: (api: Api, artistId: string, cursor?: string | null) =>
    api.get<Page<Video>>(`/api/artists/${artistId}/videos${q({ cursor })}`),
  comments: (api: Api, id: string, cursor?: string | null) =>
    api.get<Page<Comment>>(`/api/videos/${id}/comments${q({ cursor })}`),
};

export const engagement = {
  view: (api: Api, id: string, deviceId?: string) =>
    api.post<unknown>(`/api/recommendation/video/${id}/view`, {}, deviceId ? { headers: { 'X-Device-Id': deviceId } } : {}),
  watchtime: (api: Api, id: string, secondsWatched: number) =>
    api.post<unknown>(`/api/recommendation/video/${id}/watchtime`, { secondsWatched }),
  like: (api: Api, id: string, liked: boolean) =>
    api.post<{ liked?: boolean; likes?: number }>(`/api/recommendation/video/${id}/like`, { liked }),
};

export type FeedKind = 'discovery' | 'trending' | 'following';

export const feeds = {
  page: (api: Api, kind: FeedKind, cursor?: string | null, limit = 20) =>
    api.get<Page<FeedItem>>(`/api/feed/${kind}${q({ cursor, limit })}`),
};

export const artists = {
  profile: (api: Api, id: string) => api.get<ArtistProfile>(`/api/artists/${id}`),
  follow: (api: Api, id: string) => api.post<unknown>(`/api/artists/${id}/follow`),
  unfollow: (api: Api, id: string) => api.delete<unknown>(`/api/artists/${id}/follow`),
  analytics: (api: Api, from: string, to: string, bucket: 'day' | 'week') =>
    api.get<Analytics>(`/api/artists/me/analytics${q({ from, to, bucket })}`),
};

export const money = {
  tip: (
    api: Api,
    body: { artistId: string; amount: number; currency: string; videoId?: string; eventId?: string; message?: string },
  ) => api.post<TipReply>('/api/tips', body),
  tips: (api: Api) => api.get<{ tips: Tip[]; next: string | null }>('/api/tips'),
  balance: (api: Api) => api.get<{ artist_id: string; balances: CurrencyBalance[] }>('/api/ledger/balance'),
  sepaAccount: (api: Api, iban: string, name: string) =>
    api.post<unknown>('/api/ledger/payout-accounts/sepa', { iban, name }),
};

export const account = {
  preferences: (api: Api) => api.get<Preferences>('/api/me/preferences'),
  savePreferences: (api: Api, prefs: Partial<Preferences>) =>
    api.patch<Preferences>('/api/me/preferences', prefs),
};
