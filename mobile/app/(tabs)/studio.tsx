import { useFocusEffect, useRouter } from 'expo-router';
import { useCallback } from 'react';
import { Pressable, Text } from 'react-native';
import { live, videos } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Body, Button, Card, ErrorBanner, Row, Screen, Title } from '../../src/components/ui';
import { useAsync } from '../../src/hooks/useAsync';

export default function Studio() {
  const { api, session, theme } = useApp();
  const router = useRouter();
  const me = session?.user.id ?? '';
  const events = useAsync(() => live.mine(api), [api]);
  const mine = useAsync(() => videos.byArtist(api, me), [api, me]);
  useFocusEffect(
    useCallback(() => {
      void events.reload();
      void mine.reload();
      // eslint-disable-next-line react-hooks/exhaustive-deps
    }, []),
  );
  return (
    <Screen>
      <Title>Studio</Title>
      <Row>
        <Button title="Upload a video" onPress={() => router.push('/upload')} testID="go-upload" />
        <Button title="Go live" onPress={() => router.push('/golive')} testID="go-live" />
        <Button kind="secondary" title="Analytics" onPress={() => router.push('/analytics')} testID="go-analytics" />
        <Button kind="secondary" title="Settings" onPress={() => router.push('/settings')} />
        <Button kind="secondary" title="My profile" onPress={() => router.push(`/artist/${me}`)} />
      </Row>
      <Body muted>My events</Body>
      <ErrorBanner message={events.error} onRetry={events.reload} />
      {events.data?.events.map((ev) => (
        <Pressable key={ev.id} onPress={() => router.push(`/event/${ev.id}`)}>
          <Card>
            <Text style={{ color: theme.text }}>{ev.title}</Text>
            <Text style={{ color: theme.muted }}>{ev.status}</Text>
          </Card>
        </Pressable>
      ))}
      <Body muted>My videos</Body>
      <ErrorBanner message={mine.error} onRetry={mine.reload} />
      {mine.data?.items.map((v) => (
        <Pressable key={v.id} onPress={() => router.push(`/watch/${v.id}`)}>
          <Card testID="my-video">
            <Text style={{ color: theme.text }}>{v.title}</Text>
            <Text style={{ color: theme.muted }}>
              {v.state}
              {v.state === 'processing' ? ` ${v.progress}%` : ''}
            </Text>
          </Card>
        </Pressable>
      ))}
    </Screen>
  );
}
