import { useState } from 'react';
import { View } from 'react-native';
import { live } from '../src/api/endpoints';
import type { LiveEvent } from '../src/api/types';
import { useApp } from '../src/AppContext';
import { serverUrl } from '../src/config';
import { Body, Button, Card, ErrorBanner, Field, Screen, Title } from '../src/components/ui';
import { useAction, useAsync } from '../src/hooks/useAsync';

/** The OBS server: the RTMP port (1935 by default) on the host the app talks to. */
function obsServer(): string {
  const host = serverUrl().replace(/^https?:\/\//, '').replace(/[:/].*$/, '');
  return `rtmp://${host || 'localhost'}:1935/live`;
}

function KeyCard({ event }: { event: LiveEvent }) {
  return (
    <Card testID="stream-key">
      <Body>OBS → Settings → Stream → Service “Custom…”</Body>
      <Body>Server: {obsServer()}</Body>
      <Body>Stream key: {event.stream_key}</Body>
      <Body muted>The key is shown only now. Rotate it if it leaks; the old one stops working.</Body>
    </Card>
  );
}

export default function GoLive() {
  const { api } = useApp();
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [price, setPrice] = useState('0');
  const [currency, setCurrency] = useState('EUR');
  const [startsIn, setStartsIn] = useState('0');
  const [shown, setShown] = useState<LiveEvent | null>(null);
  const mine = useAsync(() => live.mine(api), [api]);

  const create = useAction(async () => {
    const minor = Math.round(Number(price.replace(',', '.')) * 100);
    if (!Number.isFinite(minor) || minor < 0) throw new Error('Enter a price like 5.00 (0 for a free show).');
    const minutes = Math.max(0, Number(startsIn) || 0);
    const event = await live.create(api, {
      title: title.trim(),
      description: description.trim() || undefined,
      starts_at: new Date(Date.now() + minutes * 60_000).toISOString(),
      price: minor,
      currency: currency.trim().toUpperCase(),
    });
    setShown(event);
    await mine.reload();
  });
  const rotate = useAction(async (id: string) => {
    setShown(await live.rotateKey(api, id));
  });

  return (
    <Screen>
      <Title>Go live</Title>
      <Field label="Title" value={title} onChangeText={setTitle} autoCapitalize="sentences" testID="event-title" />
      <Field label="Description" value={description} onChangeText={setDescription} autoCapitalize="sentences" />
      <Field label="Ticket price (0 = free)" value={price} onChangeText={setPrice} keyboardType="decimal-pad" />
      <Field label="Currency" value={currency} onChangeText={setCurrency} maxLength={3} autoCapitalize="characters" />
      <Field label="Starts in (minutes)" value={startsIn} onChangeText={setStartsIn} keyboardType="number-pad" />
      <ErrorBanner message={create.error ?? rotate.error ?? mine.error} />
      <Button title="Create event" onPress={() => void create.run()} busy={create.busy} disabled={!title.trim()} testID="create-event" />
      {shown ? <KeyCard event={shown} /> : null}
      <Body muted>My events</Body>
      {mine.data?.events
        .filter((ev) => ev.status === 'scheduled' || ev.status === 'live')
        .map((ev) => (
          <Card key={ev.id}>
            <Body>
              {ev.title} · {ev.status}
            </Body>
            <View>
              <Button kind="secondary" title="Rotate stream key" onPress={() => void rotate.run(ev.id)} busy={rotate.busy} />
            </View>
          </Card>
        ))}
    </Screen>
  );
}
