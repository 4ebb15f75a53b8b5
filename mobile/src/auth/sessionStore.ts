import type { SessionStore } from '../api/client';
import type { Session } from '../api/types';
import { getItem, setItem } from './storage';

const KEY = 'mhc.session';

export const secureSessionStore: SessionStore = {
  async load(): Promise<Session | null> {
    const raw = await getItem(KEY);
    if (!raw) return null;
    try {
      const parsed = JSON.parse(raw) as Session;
      return parsed && typeof parsed.refresh === 'string' ? parsed : null;
    } catch {
      return null;
    }
  },
  async save(session: Session | null): Promise<void> {
    await setItem(KEY, session ? JSON.stringify(session) : null);
  },
};
