import { useRouter } from 'expo-router';
import { Pressable, Text } from 'react-native';
import { live } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Body, Card, ErrorBanner, Screen, Title } from '../../src/components/ui';
import { useAsync } from '../../src/hooks/useAsync';
import { formatMoney } from '../../src/theme';

export default function LiveList() {
  const { api, theme } = useApp();
  const router = useRouter();
  const events = useAsync(() => live.list(api), [api]);
  return (
    <Screen>
      <Title>Live events</Title>
      <ErrorBanner message={events.error} onRetry={events.reload} />
      {events.data?.events.length === 0 ? <Body muted>No shows scheduled right now.</Body> : null}
      {events.data?.events.map((ev) => (
        <Pressable key={ev.id} onPress={() => router.push(`/event/${ev.id}`)} accessibilityRole="link" accessibilityLabel={ev.title}>
          <Card testID="event-card">
            <Text style={{ color: theme.text, fontSize: 17, fontWeight: '600' }}>{ev.title}</Text>
            <Text style={{ color: ev.status === 'live' ? theme.accent : theme.muted }}>
              {ev.status === 'live' ? '● LIVE' : new Date(ev.starts_at).toLocaleString()} ·{' '}
              {ev.price === 0 ? 'free' : formatMoney(ev.price, ev.currency)}
            </Text>
          </Card>
        </Pressable>
      ))}
    </Screen>
  );
}
