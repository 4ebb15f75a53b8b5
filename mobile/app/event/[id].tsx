import { useLocalSearchParams, useRouter } from 'expo-router';
import { useCallback, useState } from 'react';
import { View } from 'react-native';
import { live, tickets } from '../../src/api/endpoints';
import type { PlaybackGrant, Ticket } from '../../src/api/types';
import { useApp } from '../../src/AppContext';
import { Chat } from '../../src/components/Chat';
import { Player } from '../../src/components/Player';
import { TicketQr } from '../../src/components/TicketQr';
import { TipForm } from '../../src/components/TipForm';
import { Body, Button, ErrorBanner, Screen, Title } from '../../src/components/ui';
import { useAction, useAsync } from '../../src/hooks/useAsync';
import { usePlayback } from '../../src/hooks/usePlayback';
import { recall, remember } from '../../src/lib/grants';
import { formatMoney } from '../../src/theme';

const HELD = ['reserved', 'valid'];

function LivePlayer({ eventId, grant, replay }: { eventId: string; grant: PlaybackGrant; replay: boolean }) {
  const { api } = useApp();
  const playback = usePlayback(
    async () => ({ url: grant.url, expiresAt: grant.expires_at * 1000 }),
    async () => {
      // A replay session never renews as live: ask for a fresh replay grant instead.
      const next = replay ? (await tickets.replay(api, eventId)).playback : await live.playback(api, eventId, grant.session_id);
      remember(next);
      return { url: next.url, expiresAt: next.expires_at * 1000 };
    },
    [grant.session_id],
  );
  return (
    <View style={{ gap: 6 }}>
      <ErrorBanner message={playback.error} />
      {playback.url ? <Player url={playback.url} testID="live-player" /> : null}
    </View>
  );
}

export default function EventScreen() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const { api, session } = useApp();
  const router = useRouter();
  const event = useAsync(() => live.get(api, id), [api, id]);
  const ticket = useAsync(
    async (): Promise<Ticket | null> => (await tickets.mine(api)).tickets.find((t) => t.event_id === id && HELD.includes(t.status)) ?? null,
    [api, id],
  );
  const [grant, setGrant] = useState<PlaybackGrant | null>(recall(id) ?? null);
  const [replay, setReplay] = useState(false);
  const [code, setCode] = useState<string | null>(null);

  const watch = useCallback((next: PlaybackGrant, isReplay = false) => {
    remember(next);
    setReplay(isReplay);
    setGrant(next);
  }, []);

  const buy = useAction(async () => {
    const purchase = await tickets.purchase(api, id);
    // The development provider completes locally; Stripe confirms in its own sheet.
    if (purchase.payment.provider === 'dev') await tickets.confirmDev(api, purchase.payment.id);
    await ticket.reload();
  });
  const validate = useAction(async () => {
    if (!code) throw new Error('The code is still loading.');
    watch((await tickets.validate(api, code, id)).playback);
    await ticket.reload();
  });
  const reenter = useAction(async () => {
    if (!ticket.data) return;
    watch((await tickets.reenter(api, ticket.data.id)).playback);
  });
  const open = useAction(async () => watch(await live.playback(api, id)));
  const openReplay = useAction(async () => watch((await tickets.replay(api, id)).playback, true));

  const ev = event.data;
  if (!ev) {
    return (
      <Screen>
        <ErrorBanner message={event.error} onRetry={event.reload} />
        {event.loading ? <Body muted>Loading…</Body> : null}
      </Screen>
    );
  }
  const mine = session?.user.id === ev.artist_id;
  const staff = session ? ['admin', 'moderator'].includes(session.user.role) : false;
  const over = ev.status === 'ended' || ev.status === 'cancelled';
  const held = ticket.data;
  const error = buy.error ?? validate.error ?? reenter.error ?? open.error ?? openReplay.error ?? ticket.error;

  return (
    <Screen>
      <Title>{ev.title}</Title>
      <Body muted testID="event-status">
        {ev.status === 'live' ? '● LIVE' : ev.status} · {new Date(ev.starts_at).toLocaleString()} ·{' '}
        {ev.price === 0 ? 'free' : formatMoney(ev.price, ev.currency)}
      </Body>
      {ev.description ? <Body>{ev.description}</Body> : null}
      <ErrorBanner message={error} />
      {grant ? (
        <LivePlayer key={grant.session_id + grant.token} eventId={id} grant={grant} replay={replay} />
      ) : over ? (
        <Button title="Watch the replay" onPress={() => void openReplay.run()} busy={openReplay.busy} testID="replay" />
      ) : ev.price === 0 || mine || staff ? (
        <Button title="Watch" onPress={() => void open.run()} busy={open.busy} testID="watch" />
      ) : !held ? (
        <Button title={`Buy ticket · ${formatMoney(ev.price, ev.currency)}`} onPress={() => void buy.run()} busy={buy.busy} testID="buy" />
      ) : held.status === 'reserved' ? (
        <Body muted>Payment pending… pull to refresh once it completes.</Body>
      ) : held.admitted_at ? (
        <Button title="Watch on this device" onPress={() => void reenter.run()} busy={reenter.busy} testID="reenter" />
      ) : (
        <View style={{ gap: 8 }}>
          <Body>Your ticket: show this code at the door, or validate it here to watch.</Body>
          <TicketQr ticketId={held.id} onCode={setCode} />
          <Button title="Validate and watch" onPress={() => void validate.run()} busy={validate.busy} disabled={!code} testID="validate" />
          <Button kind="secondary" title="Open ticket" onPress={() => router.push(`/ticket/${held.id}`)} />
        </View>
      )}
      {grant || mine || staff || ev.price === 0 ? <Chat eventId={id} /> : null}
      {!mine && session ? <TipForm artistId={ev.artist_id} eventId={id} currency={ev.currency} /> : null}
    </Screen>
  );
}
