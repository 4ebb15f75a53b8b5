import { useFocusEffect, useRouter } from 'expo-router';
import { useCallback } from 'react';
import { Pressable, Text } from 'react-native';
import { tickets } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Body, Card, ErrorBanner, Screen, Title } from '../../src/components/ui';
import { useAsync } from '../../src/hooks/useAsync';
import { formatMoney } from '../../src/theme';

export default function MyTickets() {
  const { api, theme } = useApp();
  const router = useRouter();
  const mine = useAsync(() => tickets.mine(api), [api]);
  useFocusEffect(
    useCallback(() => {
      void mine.reload();
      // eslint-disable-next-line react-hooks/exhaustive-deps
    }, []),
  );
  return (
    <Screen>
      <Title>My tickets</Title>
      <ErrorBanner message={mine.error} onRetry={mine.reload} />
      {mine.data?.tickets.length === 0 ? <Body muted>No tickets yet: find a show in Live.</Body> : null}
      {mine.data?.tickets.map((t) => (
        <Pressable key={t.id} onPress={() => router.push(`/ticket/${t.id}`)} accessibilityRole="link">
          <Card testID="ticket-card">
            <Text style={{ color: theme.text, fontWeight: '600' }}>Ticket {t.id.slice(0, 8)}</Text>
            <Text style={{ color: theme.muted }}>
              {t.status}
              {t.admitted_at ? ' · admitted' : ''} · {formatMoney(t.price, t.currency)}
            </Text>
          </Card>
        </Pressable>
      ))}
    </Screen>
  );
}
