import { useCallback, useEffect, useState } from 'react';
import { FlatList, Pressable, Text, View } from 'react-native';
import type { ChatMessage, JoinState } from '../api/types';
import { humanMessage } from '../api/messages';
import { useApp } from '../AppContext';
import { emit, useSocket, type Ack } from '../hooks/useSocket';
import { Body, Button, ErrorBanner, Field, Row } from './ui';

/** The event's live chat; moderators get delete, timeout, ban and pin on each message. */
export function Chat({ eventId }: { eventId: string }) {
  const { api, session, theme } = useApp();
  const { socket, state } = useSocket(api, !!session);
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [pinned, setPinned] = useState<ChatMessage | null>(null);
  const [moderator, setModerator] = useState(false);
  const [viewers, setViewers] = useState(0);
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const fail = (reply: Ack) => {
    if (reply.error) setError(humanMessage(reply.error.code, reply.error.message));
    return !!reply.error;
  };

  useEffect(() => {
    if (!socket) return;
    const join = async () => {
      const reply = (await emit(socket, 'join', { event_id: eventId })) as Ack & Partial<JoinState>;
      if (fail(reply)) return;
      setError(null);
      setMessages(reply.messages ?? []);
      setPinned(reply.pinned ?? null);
      setModerator(!!reply.moderator);
      setViewers(reply.viewers ?? 0);
    };
    const mine = (payload: { event_id?: string }) => payload?.event_id === eventId;
    socket.on('connect', join);
    if (socket.connected) void join();
    socket.on('message', (m: ChatMessage) => mine(m) && setMessages((all) => [...all.slice(-199), m]));
    socket.on('message_deleted', (p: { event_id: string; message_id: string }) => {
      if (mine(p)) setMessages((all) => all.filter((m) => m.id !== p.message_id));
    });
    socket.on('message_pinned', (p: { event_id: string; message: ChatMessage | null }) => mine(p) && setPinned(p.message));
    socket.on('viewers', (p: { event_id: string; viewers: number }) => mine(p) && setViewers(p.viewers));
    socket.on('slow_mode', (p: { event_id: string; seconds: number }) =>
      mine(p) && setNotice(p.seconds ? `Slow mode: one message every ${p.seconds} s` : null),
    );
    socket.on('banned', (p: { event_id: string }) => mine(p) && setError(humanMessage('banned')));
    socket.on('access_revoked', (p: { event_id: string }) => mine(p) && setError(humanMessage('no_access')));
    socket.on('event_cancelled', (p: { event_id: string }) => mine(p) && setError(humanMessage('event_cancelled')));
    socket.on('stream_ended', (p: { event_id: string }) => mine(p) && setNotice('The stream has ended.'));
    socket.on('stream_started', (p: { event_id: string }) => mine(p) && setNotice(null));
    return () => {
      void emit(socket, 'leave', { event_id: eventId });
      for (const name of ['message', 'message_deleted', 'message_pinned', 'viewers', 'slow_mode', 'banned', 'access_revoked', 'event_cancelled', 'stream_ended', 'stream_started']) {
        socket.off(name);
      }
      socket.off('connect', join);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [socket, eventId]);

  const send = useCallback(async () => {
    const body = text.trim();
    if (!body) return;
    const reply = await emit(socket, 'send', { event_id: eventId, text: body });
    if (!fail(reply)) {
      setText('');
      setError(null);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [socket, eventId, text]);

  const moderate = async (event: string, payload: object) => {
    const reply = await emit(socket, event, { event_id: eventId, ...payload });
    if (!fail(reply)) setNotice(`Done: ${event.replace('_', ' ')}`);
  };

  if (!session) return <Body muted>Sign in to chat.</Body>;

  return (
    <View style={{ gap: 8 }} testID="chat">
      <Body muted>
        Chat · {state === 'connected' ? `${viewers} watching` : state === 'refused' ? 'signed out' : 'reconnecting…'}
        {moderator ? ' · you moderate' : ''}
      </Body>
      {pinned ? <Body testID="pinned">📌 {pinned.author.name}: {pinned.text}</Body> : null}
      {notice ? <Body muted>{notice}</Body> : null}
      <ErrorBanner message={error} />
      <FlatList
        data={messages}
        keyExtractor={(m) => m.id}
        style={{ maxHeight: 320 }}
        renderItem={({ item }) => (
          <View testID="chat-message" style={{ paddingVertical: 4, borderBottomWidth: 1, borderColor: theme.border }}>
            <Text style={{ color: theme.text }}>
              <Text style={{ fontWeight: '700' }}>{item.author.name}</Text> {item.text}
            </Text>
            {moderator && item.author.id !== session.user.id ? (
              <Row>
                {(
                  [
                    ['Delete', 'delete', { message_id: item.id }],
                    ['Pin', 'pin', { message_id: item.id }],
                    ['Timeout 10 min', 'timeout', { user_id: item.author.id, minutes: 10 }],
                    ['Ban', 'ban', { user_id: item.author.id }],
                  ] as const
                ).map(([label, event, payload]) => (
                  <Pressable key={label} accessibilityRole="button" onPress={() => moderate(event, payload)}>
                    <Text style={{ color: theme.accent, fontSize: 12 }}>{label}</Text>
                  </Pressable>
                ))}
              </Row>
            ) : moderator ? (
              <Pressable accessibilityRole="button" onPress={() => moderate('pin', { message_id: item.id })}>
                <Text style={{ color: theme.accent, fontSize: 12 }}>Pin</Text>
              </Pressable>
            ) : null}
          </View>
        )}
      />
      <Field label="Message" value={text} onChangeText={setText} onSubmitEditing={send} maxLength={500} testID="chat-input" />
      <Button title="Send" onPress={send} disabled={!text.trim() || state !== 'connected'} testID="chat-send" />
      {moderator ? (
        <Row>
          <Button kind="secondary" title="Slow mode 10 s" onPress={() => moderate('slow_mode', { seconds: 10 })} />
          <Button kind="secondary" title="Slow mode off" onPress={() => moderate('slow_mode', { seconds: 0 })} />
          <Button kind="secondary" title="Unpin" onPress={() => moderate('pin', { message_id: null })} />
        </Row>
      ) : null}
    </View>
  );
}
