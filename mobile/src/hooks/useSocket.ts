import { useEffect, useState } from 'react';
import { io, type Socket } from 'socket.io-client';
import type { Api } from '../api/client';
import { serverUrl } from '../config';

export type SocketState = 'connecting' | 'connected' | 'offline' | 'refused';

/** One Socket.IO connection with the session's access token, refreshed on every reconnect. */
export function useSocket(api: Api, enabled = true): { socket: Socket | null; state: SocketState } {
  const [socket, setSocket] = useState<Socket | null>(null);
  const [state, setState] = useState<SocketState>('connecting');

  useEffect(() => {
    if (!enabled) return;
    const sock = io(serverUrl(), {
      // A function, so reconnects present a fresh token rather than the expired one.
      auth: (cb) => {
        api
          .accessToken()
          .then((token) => cb({ token }))
          .catch(() => cb({ token: null }));
      },
      reconnectionDelayMax: 5000,
    });
    sock.on('connect', () => setState('connected'));
    sock.on('disconnect', () => setState('offline'));
    sock.on('connect_error', (err: Error & { data?: { code?: string } }) => {
      const code = err.data?.code;
      if (code === 'invalid_token' || code === 'unauthorized') {
        // The server refused the token: rotate it and try once more, else give up politely.
        api
          .refresh()
          .then(() => sock.connect())
          .catch(() => setState('refused'));
      } else {
        setState('offline');
      }
    });
    sock.on('token_revoked', () => setState('refused'));
    setSocket(sock);
    return () => {
      sock.removeAllListeners();
      sock.disconnect();
      setSocket(null);
    };
  }, [api, enabled]);

  return { socket, state };
}

export interface Ack {
  ok?: boolean;
  error?: { code: string; message: string; until?: string; retry_after_ms?: number };
  [key: string]: unknown;
}

/** Emits with an ack and a timeout; a dropped socket answers with an error, never throws. */
export async function emit(socket: Socket | null, event: string, payload: object): Promise<Ack> {
  if (!socket) return { error: { code: 'offline', message: 'Not connected.' } };
  try {
    const reply = (await socket.timeout(8000).emitWithAck(event, payload)) as Ack;
    if (reply?.error?.code === 'token_expired') {
      socket.disconnect().connect();
    }
    return reply ?? { error: { code: 'offline', message: 'No answer.' } };
  } catch {
    return { error: { code: 'offline', message: 'The chat is not answering. Reconnecting…' } };
  }
}
