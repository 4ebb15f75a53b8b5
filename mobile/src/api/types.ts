// The shapes the server sends (snake_case, as the API documents them).
export type Role = 'fan' | 'artist' | 'moderator' | 'admin' | 'auditor';
export type Realm = 'inferno' | 'purgatorio' | 'paradiso';

export interface User {
  id: string;
  email: string;
  display_name: string;
  role: Role;
  created_at: string;
}

export interface SessionReply {
  access: string;
  refresh: string;
  expires_in: number;
  user: User;
}

export interface Session {
  access: string;
  refresh: string;
  expiresAt: number;
  user: User;
}

export interface LiveEvent {
  id: string;
  artist_id: string;
  title: string;
  description: string;
  starts_at: string;
  price: number;
  currency: string;
  capacity: number | null;
  replay_access: boolean;
  status: 'scheduled' | 'live' | 'ended' | 'cancelled';
  publishing: boolean;
  started_at: string | null;
  ended_at: string | null;
  created_at: string;
  stream_key?: string;
}

export interface PlaybackGrant {
  token: string;
  url: string;
  session_id: string;
  event_id: string;
  expires_at: number;
  expires_in: number;
}

export interface Ticket {
  id: string;
  event_id: string;
  status: string;
  price: number;
  currency: string;
  replay_access: boolean;
  provider: string | null;
  reserved_until: string | null;
  paid_at: string | null;
  admitted_at: string | null;
  closed_at: string | null;
  close_reason: string | null;
  created_at: string;
}

export interface Payment {
  provider: string;
  label: string;
  id: string;
  status: string;
  client_secret: string | null;
  amount: number;
  currency: string;
  confirm_url?: string | null;
}

export interface Purchase {
  ticket: Ticket;
  payment: Payment;
}

export interface QrCode {
  code: string;
  not_before: number;
  expires_at: number;
  refresh_in: number;
}

export interface Admission {
  status: string;
  reentry: boolean;
  ticket_id: string;
  event_id: string;
  admitted_at: string;
  playback: PlaybackGrant;
  chat: { allowed: boolean; event_id: string };
}

export interface ReplayGrant {
  event_id: string;
  available_until: string | null;
  replay: { status: string; duration: number | null; segments: number | null; parts: number | null };
  playback: PlaybackGrant;
}

export interface ChatMessage {
  id: string;
  event_id: string;
  author: { id: string; name: string };
  text: string;
  ts: string;
}

export interface JoinState {
  event: LiveEvent;
  messages: ChatMessage[];
  pinned: ChatMessage | null;
  slow_mode: number;
  viewers: number;
  moderator: boolean;
  timed_out_until: string | null;
}

export type VideoState = 'uploading' | 'processing' | 'ready' | 'failed';
export type Visibility = 'public' | 'followers' | 'subscribers' | 'private';

export interface Video {
  id: string;
  artist_id: string;
  title: string;
  description: string;
  tags: string[];
  realm: Realm;
  visibility: Visibility;
  state: VideoState;
  progress: number;
  failure: string | null;
  duration_s: number | null;
  width: number | null;
  height: number | null;
  poster_url: string | null;
  created_at: string;
  ready_at: string | null;
  likes?: number;
  views?: number;
  liked?: boolean;
}

export interface VideoProgress {
  video_id: string;
  state: VideoState;
  progress: number;
  failure: string | null;
}

export type FeedItem =
  | { type: 'video'; video: Video; artist: { id: string; display_name: string } }
  | { type: 'live'; event: LiveEvent };

export interface Page<T> {
  items: T[];
  next: string | null;
}

export interface Comment {
  id: string;
  author: { id: string; display_name: string };
  body: string;
  created_at: string;
  parent_id?: string | null;
  replies?: Comment[];
}

export interface ArtistProfile {
  id: string;
  display_name: string;
  followers: number;
  following: boolean;
  avatar_url?: string | null;
  videos: Video[];
  upcoming_events: LiveEvent[];
}

export interface Money {
  count: number;
  amount: number;
  currency: string | null;
}

export interface AnalyticsBucket {
  start: string;
  views: number;
  unique_viewers: number;
  watch_seconds: number;
  likes: number;
  new_followers: number;
  tips: Money;
  sales: Money;
}

export interface Analytics {
  buckets: AnalyticsBucket[];
  top_videos: Array<{ video_id: string; title: string | null; views: number; watch_seconds: number; likes: number }>;
}

export interface TipReply {
  tip_id: string;
  client_secret: string | null;
  provider: string;
  status: string;
}

export interface Tip {
  id: string;
  artist_id: string;
  amount: number;
  currency: string;
  status: string;
  provider?: string;
  video_id: string | null;
  event_id: string | null;
  message: string;
  created_at: string;
  paid_at?: string | null;
}

export interface Preferences {
  realm: Realm;
  notifications: Record<string, boolean>;
}

export interface CurrencyBalance {
  currency: string;
  pending: number;
  available: number;
  in_transit: number;
  receivable: number;
}
