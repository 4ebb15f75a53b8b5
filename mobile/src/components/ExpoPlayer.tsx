import { useVideoPlayer, VideoView } from 'expo-video';
import { useEffect } from 'react';
import { Platform, StyleSheet } from 'react-native';
import type { PlayerProps } from './playerTypes';

/** expo-video: AVPlayer / ExoPlayer on phones, the browser's own HLS where it has one. */
export function ExpoPlayer({ url, onTick, testID }: PlayerProps) {
  const player = useVideoPlayer(url, (p) => {
    // Browsers only autoplay muted; the controls unmute.
    if (Platform.OS === 'web') p.muted = true;
    p.play();
  });

  useEffect(() => {
    // play() before the source is loaded is dropped on some platforms: start once it is ready.
    const sub = player.addListener('statusChange', ({ status }) => {
      if (status === 'readyToPlay' && !player.playing) player.play();
    });
    return () => sub.remove();
  }, [player]);

  useEffect(() => {
    if (!onTick) return;
    const timer = setInterval(() => onTick(player.currentTime, player.playing), 1000);
    return () => clearInterval(timer);
  }, [player, onTick]);

  return <VideoView testID={testID} player={player} style={styles.video} nativeControls contentFit="contain" />;
}

export const styles = StyleSheet.create({
  video: { width: '100%', aspectRatio: 16 / 9, backgroundColor: '#000' },
});
