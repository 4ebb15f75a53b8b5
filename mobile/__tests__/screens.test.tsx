import { act, fireEvent, render, screen, waitFor } from '@testing-library/react-native';
import { renderHook } from '@testing-library/react-native';
import { Api } from '../src/api/client';
import { AppProvider } from '../src/AppContext';
import { ErrorBanner } from '../src/components/ui';
import { TicketQr } from '../src/components/TicketQr';
import { usePlayback } from '../src/hooks/usePlayback';
import { fakeFetch, json, memoryStore, reply } from './helpers';

const mockReplace = jest.fn();
jest.mock('expo-router', () => ({
  useRouter: () => ({ replace: mockReplace, push: jest.fn() }),
  Link: ({ children }: { children: React.ReactNode }) => {
    const { Text } = jest.requireActual<typeof import('react-native')>('react-native');
    return <Text>{children}</Text>;
  },
}));

// The login screen is a route file; import it after the router mock.
// eslint-disable-next-line import/first
import Login from '../app/login';

function withApp(api: Api) {
  return ({ children }: { children: React.ReactNode }) => <AppProvider api={api}>{children}</AppProvider>;
}

describe('screens and hooks', () => {
  beforeEach(() => mockReplace.mockReset());

  it('login shows the API error as a sentence and stays put', async () => {
    const { fetchImpl } = fakeFetch(() => json(401, { error: { code: 'bad_credentials', message: 'wrong email or password' } }));
    const api = new Api(() => 'http://s', memoryStore(), { fetch: fetchImpl });
    await render(<Login />, { wrapper: withApp(api) });
    await fireEvent.changeText(await screen.findByTestId('email'), 'fan@example.test');
    await fireEvent.changeText(screen.getByTestId('password'), 'nope-nope');
    await fireEvent.press(screen.getByTestId('login'));
    expect(await screen.findByText('That email and password do not match.')).toBeTruthy();
    expect(mockReplace).not.toHaveBeenCalled();
  });

  it('login signs in and goes to the feed', async () => {
    const { fetchImpl } = fakeFetch(() => json(200, reply('a1', 'r1')));
    const api = new Api(() => 'http://s', memoryStore(), { fetch: fetchImpl });
    await render(<Login />, { wrapper: withApp(api) });
    await fireEvent.changeText(await screen.findByTestId('email'), 'fan@example.test');
    await fireEvent.changeText(screen.getByTestId('password'), 'long-enough');
    await fireEvent.press(screen.getByTestId('login'));
    await waitFor(() => expect(mockReplace).toHaveBeenCalledWith('/feed'));
    expect(api.current?.access).toBe('a1');
  });

  it('an error banner renders nothing without a message and offers retry with one', async () => {
    const api = new Api(() => 'http://s', memoryStore());
    const retry = jest.fn();
    const { rerender } = await render(<ErrorBanner message={null} />, { wrapper: withApp(api) });
    expect(screen.queryByTestId('error')).toBeNull();
    await rerender(<ErrorBanner message="Can't reach the server." onRetry={retry} />);
    await fireEvent.press(screen.getByText('Retry'));
    expect(retry).toHaveBeenCalled();
  });

  it('the ticket QR fetches a fresh code before the old one expires', async () => {
    jest.useFakeTimers();
    let n = 0;
    const { fetchImpl, calls } = fakeFetch(() => {
      n += 1;
      return json(200, { code: `CODE${n}`, not_before: 0, expires_at: 2_000_000_000, refresh_in: 60 });
    });
    const api = new Api(() => 'http://s', memoryStore(), { fetch: fetchImpl });
    await api.adopt(reply('a1', 'r1'));
    const codes: string[] = [];
    await render(<TicketQr ticketId="t1" onCode={(c) => codes.push(c)} />, { wrapper: withApp(api) });
    await act(async () => {
      await jest.advanceTimersByTimeAsync(100);
    });
    expect(codes).toEqual(['CODE1']);
    await act(async () => {
      await jest.advanceTimersByTimeAsync(60_000);
    });
    expect(codes).toEqual(['CODE1', 'CODE2']);
    expect(calls.every((c) => c.url.endsWith('/api/tickets/t1/qr?format=json'))).toBe(true);
    jest.useRealTimers();
  });

  it('usePlayback renews the token a minute before it expires, and reports a failed renewal', async () => {
    jest.useFakeTimers();
    const now = Date.now();
    const start = jest.fn(async () => ({ url: 'u1', expiresAt: now + 180_000 }));
    const renew = jest
      .fn()
      .mockResolvedValueOnce({ url: 'u2', expiresAt: now + 360_000 })
      .mockRejectedValueOnce(Object.assign(new Error('You need a ticket (validated) to watch this event.'), {}));
    const { result } = await renderHook(() => usePlayback(start, renew, []));
    await act(async () => {
      await jest.advanceTimersByTimeAsync(10);
    });
    expect(result.current.url).toBe('u1');
    await act(async () => {
      await jest.advanceTimersByTimeAsync(121_000);
    });
    expect(renew).toHaveBeenCalledTimes(1);
    expect(result.current.url).toBe('u2');
    await act(async () => {
      await jest.advanceTimersByTimeAsync(180_000);
    });
    expect(result.current.error).toBe('You need a ticket (validated) to watch this event.');
    expect(result.current.url).toBe('u2');
    jest.useRealTimers();
  });
});
