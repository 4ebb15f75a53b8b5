import { fireEvent, render, screen, waitFor } from '@testing-library/react-native';
import { Api } from '../src/api/client';
import { AppProvider } from '../src/AppContext';
import { memoryStore } from './helpers';

jest.mock('expo-router', () => ({ useRouter: () => ({ replace: jest.fn(), push: jest.fn() }) }));
jest.mock('../src/hooks/useSocket', () => ({ useSocket: () => ({ socket: null }) }));

let finishPicking: (name: string) => void = () => undefined;
jest.mock('expo-document-picker', () => ({
  getDocumentAsync: () =>
    new Promise((resolve) => {
      finishPicking = (name: string) =>
        resolve({ canceled: false, assets: [{ name, uri: `file:///${name}`, size: 10 }] });
    }),
}));

// The upload screen is a route file; import it after the mocks.
// eslint-disable-next-line import/first
import Upload from '../app/upload';

describe('upload screen', () => {
  it('keeps a title typed while the picker was open', async () => {
    const api = new Api(() => 'http://s', memoryStore());
    await render(<Upload />, { wrapper: ({ children }) => <AppProvider api={api}>{children}</AppProvider> });
    await fireEvent.press(await screen.findByTestId('pick'));
    await fireEvent.changeText(screen.getByTestId('title'), 'My first clip');
    finishPicking('clip.mp4');
    await screen.findByText('Chosen: clip.mp4');
    expect(screen.getByTestId('title').props.value).toBe('My first clip');
  });

  it('suggests the file name as the title when none was typed', async () => {
    const api = new Api(() => 'http://s', memoryStore());
    await render(<Upload />, { wrapper: ({ children }) => <AppProvider api={api}>{children}</AppProvider> });
    await fireEvent.press(await screen.findByTestId('pick'));
    finishPicking('sunset.mov');
    await waitFor(() => expect(screen.getByTestId('title').props.value).toBe('sunset'));
  });
});
