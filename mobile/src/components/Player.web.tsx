// Where Media Source Extensions exist, hls.js plays on a plain <video>, bundled with the app
// (no CDN); only browsers without them (Safari on older iPhones) use their own HLS through
// expo-video. Recent Chromium also answers "maybe" for HLS, but its own demuxer refuses the
// MPEG-TS live playlists nginx-rtmp writes, so its answer is not taken.
import Hls from 'hls.js';
import { createElement, useEffect, useRef } from 'react';
import { ExpoPlayer } from './ExpoPlayer';
import type { PlayerProps } from './playerTypes';

export function nativeHls(): boolean {
  if (typeof document === 'undefined') return false;
  if (Hls.isSupported()) return false;
  return document.createElement('video').canPlayType('application/vnd.apple.mpegurl') !== '';
}

function HlsPlayer({ url, onTick, testID }: PlayerProps) {
  const ref = useRef<HTMLVideoElement | null>(null);

  useEffect(() => {
    const video = ref.current;
    if (!video) return;
    const hls = new Hls({ lowLatencyMode: false });
    hls.loadSource(url);
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      video.play().catch(() => undefined);
    });
    return () => hls.destroy();
  }, [url]);

  useEffect(() => {
    if (!onTick) return;
    const timer = setInterval(() => {
      const video = ref.current;
      if (video) onTick(video.currentTime, !video.paused);
    }, 1000);
    return () => clearInterval(timer);
  }, [onTick]);

  return createElement('video', {
    ref,
    'data-testid': testID,
    controls: true,
    muted: true,
    autoPlay: true,
    playsInline: true,
    style: { width: '100%', aspectRatio: '16 / 9', backgroundColor: '#000' },
  });
}

export function Player(props: PlayerProps) {
  return nativeHls() ? <ExpoPlayer {...props} /> : <HlsPlayer {...props} />;
}
