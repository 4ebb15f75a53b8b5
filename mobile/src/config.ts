// Where the server is. Phones need its address (a LAN IP in development); it is kept as a
// setting, seeded from EXPO_PUBLIC_SERVER_URL or app.json's extra.serverUrl.
import Constants from 'expo-constants';
import { getItem, setItem } from './auth/storage';

const KEY = 'mhc.serverUrl';
const fromBuild =
  process.env.EXPO_PUBLIC_SERVER_URL ??
  (Constants.expoConfig?.extra as { serverUrl?: string } | undefined)?.serverUrl ??
  'http://127.0.0.1:8000';

let current = fromBuild.replace(/\/+$/, '');

export const serverUrlIsSetting = true;

export function serverUrl(): string {
  return current;
}

export async function loadServerUrl(): Promise<string> {
  const saved = await getItem(KEY);
  if (saved) current = saved;
  return current;
}

export async function saveServerUrl(url: string): Promise<void> {
  const clean = url.trim().replace(/\/+$/, '');
  if (!/^https?:\/\/[^\s/]+/.test(clean)) throw new Error('Enter a URL like http://192.168.1.20:8000');
  current = clean;
  await setItem(KEY, clean);
}
