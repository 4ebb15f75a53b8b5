import { ExpoPlayer } from './ExpoPlayer';
import type { PlayerProps } from './playerTypes';

export function Player(props: PlayerProps) {
  return <ExpoPlayer {...props} />;
}
