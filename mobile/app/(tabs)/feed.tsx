import { useRouter } from 'expo-router';
import { useCallback, useEffect, useRef, useState } from 'react';
import { ActivityIndicator, FlatList, Pressable, Text, View } from 'react-native';
import { feeds, type FeedKind } from '../../src/api/endpoints';
import { describe } from '../../src/api/messages';
import type { FeedItem } from '../../src/api/types';
import { useApp } from '../../src/AppContext';
import { Body, Card, Choice, ErrorBanner } from '../../src/components/ui';

const KINDS = ['discovery', 'trending', 'following'] as const;

function itemKey(item: FeedItem): string {
  return item.type === 'video' ? `v:${item.video.id}` : `l:${item.event.id}`;
}

export default function Feed() {
  const { api, theme } = useApp();
  const router = useRouter();
  const [kind, setKind] = useState<FeedKind>('discovery');
  const [items, setItems] = useState<FeedItem[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);

  const load = useCallback(
    async (reset: boolean) => {
      if (loading && !reset) return;
      const mine = reset ? ++generation.current : generation.current;
      setLoading(true);
      try {
        const page = await feeds.page(api, kind, reset ? null : next);
        if (mine !== generation.current) return;
        setItems((old) => {
          const merged = reset ? page.items : [...old, ...page.items];
          const seen = new Set<string>();
          return merged.filter((i) => (seen.has(itemKey(i)) ? false : (seen.add(itemKey(i)), true)));
        });
        setNext(page.next);
        setDone(!page.next);
        setError(null);
      } catch (err) {
        if (mine === generation.current) setError(describe(err));
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [api, kind, next, loading],
  );

  useEffect(() => {
    setItems([]);
    setNext(null);
    setDone(false);
    void load(true);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [kind]);

  return (
    <View style={{ flex: 1, padding: 12, gap: 8, backgroundColor: theme.background }}>
      <Choice options={KINDS} value={kind} onChange={setKind} labels={{ discovery: 'Discover', trending: 'Trending', following: 'Following' }} />
      <ErrorBanner message={error} onRetry={() => void load(items.length === 0)} />
      <FlatList
        data={items}
        keyExtractor={itemKey}
        onEndReached={() => !done && !loading && !error && void load(false)}
        onEndReachedThreshold={0.5}
        refreshing={loading && items.length === 0}
        onRefresh={() => void load(true)}
        contentContainerStyle={{ gap: 8 }}
        ListEmptyComponent={loading ? null : <Body muted>Nothing here yet.</Body>}
        ListFooterComponent={loading && items.length ? <ActivityIndicator color={theme.accent} /> : null}
        renderItem={({ item }) =>
          item.type === 'live' ? (
            <Pressable onPress={() => router.push(`/event/${item.event.id}`)} accessibilityRole="link">
              <Card testID="live-card" style={{ borderColor: theme.accent }}>
                <Text style={{ color: theme.accent, fontWeight: '700' }}>● LIVE NOW</Text>
                <Text style={{ color: theme.text, fontSize: 17, fontWeight: '600' }}>{item.event.title}</Text>
              </Card>
            </Pressable>
          ) : (
            <Pressable onPress={() => router.push(`/watch/${item.video.id}`)} accessibilityRole="link">
              <Card testID="video-card">
                <Text style={{ color: theme.text, fontSize: 17, fontWeight: '600' }}>{item.video.title}</Text>
                <Text style={{ color: theme.muted }}>
                  {item.artist.display_name} · {item.video.realm}
                  {item.video.duration_s ? ` · ${Math.round(item.video.duration_s)} s` : ''}
                </Text>
              </Card>
            </Pressable>
          )
        }
      />
    </View>
  );
}
