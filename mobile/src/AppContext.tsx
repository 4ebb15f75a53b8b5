import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Api } from './api/client';
import type { Realm, Session } from './api/types';
import { secureSessionStore } from './auth/sessionStore';
import { getItem, setItem } from './auth/storage';
import { loadServerUrl, serverUrl } from './config';
import { THEMES, type Theme } from './theme';

interface AppState {
  api: Api;
  ready: boolean;
  session: Session | null;
  theme: Theme;
  setRealm: (realm: Realm) => void;
}

const Context = createContext<AppState | null>(null);

export function createApi(): Api {
  // The server URL setting (phones) is read with the session, before any request leaves.
  return new Api(serverUrl, {
    load: async () => {
      await loadServerUrl();
      return secureSessionStore.load();
    },
    save: secureSessionStore.save,
  });
}

export function AppProvider({ children, api: given }: { children: ReactNode; api?: Api }) {
  const api = useMemo(() => given ?? createApi(), [given]);
  const [ready, setReady] = useState(false);
  const [session, setSession] = useState<Session | null>(api.current);
  const [realm, setRealmState] = useState<Realm>('inferno');

  useEffect(() => {
    const unsubscribe = api.subscribe(setSession);
    let alive = true;
    (async () => {
      const saved = await getItem('mhc.realm');
      if (saved === 'inferno' || saved === 'purgatorio' || saved === 'paradiso') setRealmState(saved);
      await api.restore();
      if (alive) setReady(true);
    })().catch(() => alive && setReady(true));
    return () => {
      alive = false;
      unsubscribe();
    };
  }, [api]);

  const setRealm = useCallback((next: Realm) => {
    setRealmState(next);
    void setItem('mhc.realm', next);
  }, []);

  const value = useMemo(
    () => ({ api, ready, session, theme: THEMES[realm], setRealm }),
    [api, ready, session, realm, setRealm],
  );
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useApp(): AppState {
  const state = useContext(Context);
  if (!state) throw new Error('useApp outside AppProvider');
  return state;
}
