import { useEffect, useState } from 'react';
import { View } from 'react-native';
import type { Comment } from '../api/types';
import { videos } from '../api/endpoints';
import { describe, humanMessage } from '../api/messages';
import { useApp } from '../AppContext';
import { emit, useSocket } from '../hooks/useSocket';
import { Body, Button, ErrorBanner, Field } from './ui';

/** A video's comments: the REST page first, then new ones live over Socket.IO. */
export function VideoComments({ videoId }: { videoId: string }) {
  const { api, session } = useApp();
  const { socket } = useSocket(api, !!session);
  const [items, setItems] = useState<Comment[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [body, setBody] = useState('');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    videos
      .comments(api, videoId)
      .then((page) => {
        setItems(page.items);
        setNext(page.next);
      })
      .catch((err) => setError(describe(err)));
  }, [api, videoId]);

  useEffect(() => {
    if (!socket) return;
    const join = () => void emit(socket, 'join_video', { video_id: videoId });
    socket.on('connect', join);
    if (socket.connected) join();
    const onComment = (c: Comment & { video_id?: string }) => {
      if (c.video_id && c.video_id !== videoId) return;
      setItems((all) => (all.some((x) => x.id === c.id) ? all : [c, ...all]));
    };
    socket.on('video_comment', onComment);
    return () => {
      socket.off('connect', join);
      socket.off('video_comment', onComment);
    };
  }, [socket, videoId]);

  const more = async () => {
    if (!next) return;
    try {
      const page = await videos.comments(api, videoId, next);
      setItems((all) => [...all, ...page.items]);
      setNext(page.next);
    } catch (err) {
      setError(describe(err));
    }
  };

  const post = async () => {
    const text = body.trim();
    if (!text) return;
    const reply = await emit(socket, 'comment', { video_id: videoId, body: text });
    if (reply.error) setError(humanMessage(reply.error.code, reply.error.message));
    else {
      setBody('');
      setError(null);
    }
  };

  return (
    <View style={{ gap: 8 }} testID="comments">
      <Body muted>Comments</Body>
      <ErrorBanner message={error} />
      {items.map((c) => (
        <View key={c.id} testID="comment">
          <Body>
            {c.author.display_name}: {c.body}
          </Body>
          {(c.replies ?? []).map((r) => (
            <Body key={r.id} muted>
              ↳ {r.author.display_name}: {r.body}
            </Body>
          ))}
        </View>
      ))}
      {next ? <Button kind="secondary" title="More comments" onPress={more} /> : null}
      {session ? (
        <>
          <Field label="Comment" value={body} onChangeText={setBody} maxLength={2000} testID="comment-input" />
          <Button title="Post comment" onPress={post} disabled={!body.trim()} testID="comment-send" />
        </>
      ) : (
        <Body muted>Sign in to comment.</Body>
      )}
    </View>
  );
}
