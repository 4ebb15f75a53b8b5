import { useLocalSearchParams, useRouter } from 'expo-router';
import { Pressable, Text } from 'react-native';
import { artists } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Body, Button, Card, ErrorBanner, Screen, Title } from '../../src/components/ui';
import { useAction, useAsync } from '../../src/hooks/useAsync';

export default function ArtistProfile() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const { api, session, theme } = useApp();
  const router = useRouter();
  const profile = useAsync(() => artists.profile(api, id), [api, id]);
  const follow = useAction(async () => {
    if (!profile.data) return;
    if (profile.data.following) await artists.unfollow(api, id);
    else await artists.follow(api, id);
    await profile.reload();
  });
  const p = profile.data;
  return (
    <Screen>
      <ErrorBanner message={profile.error ?? follow.error} onRetry={profile.reload} />
      {p ? (
        <>
          <Title>{p.display_name}</Title>
          <Body muted testID="followers">{p.followers} followers</Body>
          {session?.user.id !== id ? (
            <Button title={p.following ? 'Unfollow' : 'Follow'} onPress={() => void follow.run()} busy={follow.busy} testID="follow" />
          ) : null}
          <Body muted>Upcoming shows</Body>
          {p.upcoming_events.map((ev) => (
            <Pressable key={ev.id} onPress={() => router.push(`/event/${ev.id}`)}>
              <Card>
                <Text style={{ color: theme.text }}>{ev.title}</Text>
              </Card>
            </Pressable>
          ))}
          <Body muted>Videos</Body>
          {p.videos.map((v) => (
            <Pressable key={v.id} onPress={() => router.push(`/watch/${v.id}`)}>
              <Card>
                <Text style={{ color: theme.text }}>{v.title}</Text>
              </Card>
            </Pressable>
          ))}
        </>
      ) : null}
    </Screen>
  );
}
