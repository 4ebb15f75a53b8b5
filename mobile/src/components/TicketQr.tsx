import { useEffect, useState } from 'react';
import { View } from 'react-native';
import QRCode from 'react-native-qrcode-svg';
import type { QrCode } from '../api/types';
import { tickets } from '../api/endpoints';
import { describe } from '../api/messages';
import { useApp } from '../AppContext';
import { Body, ErrorBanner } from './ui';

/** The ticket's signed code, fetched again before it expires (screenshots go stale). */
export function TicketQr({ ticketId, onCode }: { ticketId: string; onCode?: (code: string) => void }) {
  const { api } = useApp();
  const [qr, setQr] = useState<QrCode | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const next = await tickets.qr(api, ticketId);
        if (!alive) return;
        setQr(next);
        setError(null);
        onCode?.(next.code);
        timer = setTimeout(load, Math.max(5, next.refresh_in) * 1000);
      } catch (err) {
        if (!alive) return;
        setError(describe(err));
        timer = setTimeout(load, 15_000);
      }
    };
    void load();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, ticketId]);

  return (
    <View style={{ alignItems: 'center', gap: 8 }} testID="ticket-qr">
      <ErrorBanner message={error} />
      {qr ? (
        <>
          <View style={{ padding: 12, backgroundColor: '#fff' }}>
            <QRCode value={qr.code} size={220} ecl="M" />
          </View>
          <Body muted testID="qr-expiry">
            Refreshes automatically · valid until {new Date(qr.expires_at * 1000).toLocaleTimeString()}
          </Body>
        </>
      ) : null}
    </View>
  );
}
