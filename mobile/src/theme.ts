import type { Realm } from './api/types';

export interface Theme {
  realm: Realm;
  name: string;
  background: string;
  card: string;
  text: string;
  muted: string;
  accent: string;
  accentText: string;
  danger: string;
  border: string;
}

export const THEMES: Record<Realm, Theme> = {
  inferno: {
    realm: 'inferno',
    name: 'Inferno',
    background: '#140606',
    card: '#2a0d0b',
    text: '#fbe9e4',
    muted: '#c99a8d',
    accent: '#ff4b1f',
    accentText: '#ffffff',
    danger: '#ff8a65',
    border: '#4a1a14',
  },
  purgatorio: {
    realm: 'purgatorio',
    name: 'Purgatorio',
    background: '#1b1d22',
    card: '#262a31',
    text: '#e8e6e1',
    muted: '#9ea3ab',
    accent: '#c9a66b',
    accentText: '#1b1d22',
    danger: '#e57373',
    border: '#3a3f48',
  },
  paradiso: {
    realm: 'paradiso',
    name: 'Paradiso',
    background: '#f7f9ff',
    card: '#ffffff',
    text: '#1a2340',
    muted: '#5d6b8a',
    accent: '#3d6bff',
    accentText: '#ffffff',
    danger: '#c62828',
    border: '#d8def0',
  },
};

export const REALMS: Realm[] = ['inferno', 'purgatorio', 'paradiso'];

export function formatMoney(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency}`;
}
