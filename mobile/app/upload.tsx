import * as DocumentPicker from 'expo-document-picker';
import { useRouter } from 'expo-router';
import { useEffect, useRef, useState } from 'react';
import { AppState } from 'react-native';
import { videos } from '../src/api/endpoints';
import type { Realm, Video, VideoProgress, Visibility } from '../src/api/types';
import { useApp } from '../src/AppContext';
import { getItem, setItem } from '../src/auth/storage';
import { Body, Button, Choice, ErrorBanner, Field, ProgressBar, Screen, Title } from '../src/components/ui';
import { useAction } from '../src/hooks/useAsync';
import { useSocket } from '../src/hooks/useSocket';
import * as tus from '../src/lib/tus';
import { REALMS } from '../src/theme';

const PENDING = 'mhc.pendingUpload';

interface Pending {
  location: string;
  videoId: string;
  name: string;
  size: number;
}

async function toBlob(asset: DocumentPicker.DocumentPickerAsset): Promise<Blob> {
  // The web picker hands a File; phones a file:// URI that fetch reads as a Blob.
  if (asset.file) return asset.file;
  return (await fetch(asset.uri)).blob();
}

export default function Upload() {
  const { api } = useApp();
  const router = useRouter();
  const { socket } = useSocket(api);
  const [asset, setAsset] = useState<DocumentPicker.DocumentPickerAsset | null>(null);
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [realm, setRealm] = useState<Realm>('inferno');
  const [visibility, setVisibility] = useState<Visibility>('public');
  const [sent, setSent] = useState(0);
  const [video, setVideo] = useState<Pick<Video, 'id' | 'state' | 'progress' | 'failure'> | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => {
    void getItem(PENDING).then((raw) => raw && setPending(JSON.parse(raw) as Pending));
    return () => abort.current?.abort();
  }, []);

  // Processing progress: pushed over Socket.IO, and polled in case the socket is down.
  useEffect(() => {
    if (!video || video.state === 'ready' || video.state === 'failed') return;
    const onProgress = (p: VideoProgress) =>
      p.video_id === video.id && setVideo({ id: p.video_id, state: p.state, progress: p.progress, failure: p.failure });
    socket?.on('video_progress', onProgress);
    const timer = setInterval(() => {
      videos
        .get(api, video.id)
        .then((v) => setVideo({ id: v.id, state: v.state, progress: v.progress, failure: v.failure }))
        .catch(() => undefined);
    }, 2000);
    return () => {
      socket?.off('video_progress', onProgress);
      clearInterval(timer);
    };
  }, [api, socket, video]);

  const pick = useAction(async () => {
    const result = await DocumentPicker.getDocumentAsync({ type: 'video/*', copyToCacheDirectory: true });
    if (result.canceled || !result.assets[0]) return;
    const chosen = result.assets[0];
    setAsset(chosen);
    // The name suggests a title only if none was typed while the picker was open (the
    // closure's `title` is the one from before it opened).
    setTitle((typed) => typed || chosen.name.replace(/\.[^.]+$/, ''));
  });

  const start = useAction(async () => {
    if (!asset) throw new Error('Pick a video first.');
    const blob = await toBlob(asset);
    let target = pending && pending.name === asset.name && pending.size === blob.size ? pending : null;
    if (!target) {
      const created = await tus.create(api, blob.size, { filename: asset.name, title: title.trim(), realm, visibility });
      target = { ...created, name: asset.name, size: blob.size };
      await setItem(PENDING, JSON.stringify(target));
      setPending(target);
    }
    setVideo({ id: target.videoId, state: 'uploading', progress: 0, failure: null });
    abort.current = new AbortController();
    await tus.send(api, target.location, blob, {
      signal: abort.current.signal,
      onProgress: (done, total) => setSent(total ? (done / total) * 100 : 100),
    });
    await setItem(PENDING, null);
    setPending(null);
    if (description.trim()) await videos.update(api, target.videoId, { description: description.trim() });
    const fresh = await videos.get(api, target.videoId);
    setVideo({ id: fresh.id, state: fresh.state, progress: fresh.progress, failure: fresh.failure });
  });

  // Back from the background with the upload broken off (the OS cut the connection): carry on
  // from the server's offset.
  useEffect(() => {
    const sub = AppState.addEventListener('change', (state) => {
      if (state === 'active' && start.error && asset && pending && !start.busy) void start.run();
    });
    return () => sub.remove();
  }, [start, asset, pending]);

  const uploading = start.busy;
  return (
    <Screen>
      <Title>Upload a video</Title>
      {pending && !uploading ? (
        <Body muted>An upload of {pending.name} was interrupted: pick the same file to resume it.</Body>
      ) : null}
      <Button kind="secondary" title={asset ? `Chosen: ${asset.name}` : 'Pick a video'} onPress={() => void pick.run()} testID="pick" />
      <Field label="Title" value={title} onChangeText={setTitle} maxLength={200} autoCapitalize="sentences" testID="title" />
      <Field label="Description" value={description} onChangeText={setDescription} multiline maxLength={5000} autoCapitalize="sentences" />
      <Body muted>Realm</Body>
      <Choice options={REALMS} value={realm} onChange={setRealm} />
      <Body muted>Who can watch</Body>
      <Choice options={['public', 'followers', 'subscribers', 'private'] as const} value={visibility} onChange={setVisibility} />
      <ErrorBanner message={pick.error ?? start.error} />
      <Button title="Upload" onPress={() => void start.run()} busy={uploading} disabled={!asset || !title.trim()} testID="upload" />
      {video ? (
        <>
          <Body testID="upload-progress">Upload {Math.floor(sent)}%</Body>
          <ProgressBar value={sent} />
          <Body testID="processing-state">
            {video.state === 'ready'
              ? 'Ready to watch'
              : video.state === 'failed'
                ? `Processing failed: ${video.failure ?? 'unknown reason'}`
                : `${video.state === 'uploading' ? 'Uploading' : 'Processing'} ${video.state === 'processing' ? `${video.progress}%` : ''}`}
          </Body>
          {video.state === 'processing' ? <ProgressBar value={video.progress} /> : null}
          {video.state === 'ready' ? <Button title="Watch it" onPress={() => router.push(`/watch/${video.id}`)} testID="watch-uploaded" /> : null}
        </>
      ) : null}
    </Screen>
  );
}
