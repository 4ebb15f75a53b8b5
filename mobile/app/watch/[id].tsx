import { useLocalSearchParams, useRouter } from 'expo-router';
import { useCallback, useEffect, useRef, useState } from 'react';
import { engagement, videos } from '../../src/api/endpoints';
import { useApp } from '../../src/AppContext';
import { Player } from '../../src/components/Player';
import { TipForm } from '../../src/components/TipForm';
import { VideoComments } from '../../src/components/VideoComments';
import { Body, Button, ErrorBanner, Row, Screen, Title } from '../../src/components/ui';
import { useAction, useAsync } from '../../src/hooks/useAsync';
import { expiryMs, usePlayback } from '../../src/hooks/usePlayback';

// Watch time is reported in batches, not per tick.
const REPORT_EVERY_S = 10;

export default function Watch() {
  const { id } = useLocalSearchParams<{ id: string }>();
  const { api, session } = useApp();
  const router = useRouter();
  const video = useAsync(() => videos.get(api, id), [api, id]);
  const [liked, setLiked] = useState(false);
  const [likes, setLikes] = useState<number | null>(null);
  const unreported = useRef(0);
  const last = useRef<number | null>(null);

  const playback = usePlayback(
    async () => {
      const grant = await videos.playback(api, id);
      return { url: grant.url, expiresAt: expiryMs(grant.expires_at) };
    },
    async () => {
      const grant = await videos.playback(api, id);
      return { url: grant.url, expiresAt: expiryMs(grant.expires_at) };
    },
    [api, id],
  );

  useEffect(() => {
    if (!video.data) return;
    setLiked(!!video.data.liked);
    setLikes(video.data.likes ?? null);
  }, [video.data]);

  useEffect(() => {
    // One view per opening; failures (offline) are not worth bothering anyone about.
    engagement.view(api, id).catch(() => undefined);
    return () => {
      const seconds = Math.round(unreported.current);
      if (seconds > 0) engagement.watchtime(api, id, seconds).catch(() => undefined);
    };
  }, [api, id]);

  const onTick = useCallback(
    (position: number, playing: boolean) => {
      if (playing && last.current !== null && position > last.current) {
        unreported.current += Math.min(2, position - last.current);
      }
      last.current = position;
      if (unreported.current >= REPORT_EVERY_S) {
        const seconds = Math.round(unreported.current);
        unreported.current = 0;
        engagement.watchtime(api, id, seconds).catch(() => {
          unreported.current += seconds;
        });
      }
    },
    [api, id],
  );

  const like = useAction(async () => {
    const next = !liked;
    const reply = await engagement.like(api, id, next);
    setLiked(reply?.liked ?? next);
    if (typeof reply?.likes === 'number') setLikes(reply.likes);
    else setLikes((n) => (n === null ? n : n + (next ? 1 : -1)));
  });

  const v = video.data;
  return (
    <Screen>
      <ErrorBanner message={video.error ?? playback.error} onRetry={video.error ? video.reload : undefined} />
      {playback.url ? <Player url={playback.url} onTick={onTick} testID="video-player" /> : null}
      {v ? (
        <>
          <Title>{v.title}</Title>
          <Body muted>
            {v.realm} · {v.views ?? 0} views{likes !== null ? ` · ${likes} likes` : ''}
          </Body>
          {v.description ? <Body>{v.description}</Body> : null}
          <Row>
            <Button title={liked ? '♥ Liked' : '♡ Like'} onPress={() => void like.run()} busy={like.busy} testID="like" />
            <Button kind="secondary" title="Artist" onPress={() => router.push(`/artist/${v.artist_id}`)} />
          </Row>
          <ErrorBanner message={like.error} />
          {session && session.user.id !== v.artist_id ? <TipForm artistId={v.artist_id} videoId={v.id} /> : null}
          <VideoComments videoId={v.id} />
        </>
      ) : null}
    </Screen>
  );
}
