import { useLocalSearchParams, useRouter } from 'expo-router';
import { useState } from 'react';
import { tickets } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Scanner } from '../../src/components/Scanner';
import { TicketQr } from '../../src/components/TicketQr';
import { Body, Button, ErrorBanner, Screen, Title } from '../../src/components/ui';
import { useAction, useAsync } from '../../src/hooks/useAsync';
import { remember } from '../../src/lib/grants';
import { formatMoney } from '../../src/theme';

export default function TicketScreen() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const { api } = useApp();
  const router = useRouter();
  const ticket = useAsync(() => tickets.get(api, id), [api, id]);
  const [code, setCode] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const admit = useAction(async (scanned: string) => {
    const admission = await tickets.validate(api, scanned);
    remember(admission.playback);
    router.replace(`/event/${admission.event_id}`);
  });
  const reenter = useAction(async () => {
    const admission = await tickets.reenter(api, id);
    remember(admission.playback);
    router.replace(`/event/${admission.event_id}`);
  });
  const t = ticket.data;
  return (
    <Screen>
      <Title>Your ticket</Title>
      <ErrorBanner message={ticket.error ?? admit.error ?? reenter.error} onRetry={ticket.error ? ticket.reload : undefined} />
      {t ? (
        <>
          <Body muted>
            {t.status}
            {t.admitted_at ? ' · admitted' : ''} · {formatMoney(t.price, t.currency)}
            {t.replay_access ? ' · replay included' : ''}
          </Body>
          {t.status === 'valid' ? <TicketQr ticketId={t.id} onCode={setCode} /> : null}
          {t.status === 'valid' && !t.admitted_at ? (
            <Button title="Validate on this device" onPress={() => code && void admit.run(code)} busy={admit.busy} disabled={!code} testID="validate" />
          ) : null}
          {t.admitted_at ? <Button title="Move viewing to this device" onPress={() => void reenter.run()} busy={reenter.busy} /> : null}
          <Button kind="secondary" title="Go to the event" onPress={() => router.push(`/event/${t.event_id}`)} />
          <Button kind="secondary" title={scanning ? 'Stop scanning' : 'Scan a ticket code'} onPress={() => setScanning(!scanning)} />
          {scanning ? (
            <Scanner
              onCode={(scanned) => {
                setScanning(false);
                void admit.run(scanned);
              }}
            />
          ) : null}
        </>
      ) : null}
    </Screen>
  );
}
