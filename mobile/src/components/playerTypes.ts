export interface PlayerProps {
  url: string;
  /** Called every second with the position (s) and whether it is playing. */
  onTick?: (position: number, playing: boolean) => void;
  testID?: string;
}
