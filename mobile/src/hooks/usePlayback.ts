import { useEffect, useRef, useState } from 'react';
import { describe } from '../api/messages';

export interface Grant {
  url: string;
  expiresAt: number; // ms since epoch
}

/**
 * Holds a playback URL and renews it before its token expires (a minute early, at most
 * every 30 s), so the player never meets a 403 from the gate.
 */
export function usePlayback(
  start: () => Promise<Grant>,
  renew: () => Promise<Grant>,
  deps: unknown[],
): { url: string | null; error: string | null } {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    let alive = true;
    const schedule = (grant: Grant) => {
      const wait = Math.max(30_000, grant.expiresAt - Date.now() - 60_000);
      timer.current = setTimeout(() => {
        renew()
          .then((next) => {
            if (!alive) return;
            setUrl(next.url);
            schedule(next);
          })
          .catch((err) => {
            if (!alive) return;
            setError(describe(err));
            timer.current = setTimeout(() => alive && schedule(grant), 10_000);
          });
      }, wait);
    };
    start()
      .then((grant) => {
        if (!alive) return;
        setUrl(grant.url);
        setError(null);
        schedule(grant);
      })
      .catch((err) => alive && setError(describe(err)));
    return () => {
      alive = false;
      if (timer.current) clearTimeout(timer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { url, error };
}

/** Server expiry (Unix seconds, ISO string or ms) as ms since epoch. */
export function expiryMs(value: string | number): number {
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? Date.now() + 5 * 60_000 : parsed;
}
