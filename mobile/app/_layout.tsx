import { Stack } from 'expo-router';
import { StatusBar } from 'expo-status-bar';
import { AppProvider, useApp } from '../src/AppContext';

function Navigator() {
  const { theme } = useApp();
  return (
    <>
      <StatusBar style={theme.realm === 'paradiso' ? 'dark' : 'light'} />
      <Stack
        screenOptions={{
          headerStyle: { backgroundColor: theme.card },
          headerTintColor: theme.text,
          contentStyle: { backgroundColor: theme.background },
        }}
      >
        <Stack.Screen name="(tabs)" options={{ headerShown: false }} />
        <Stack.Screen name="index" options={{ headerShown: false }} />
        <Stack.Screen name="login" options={{ title: 'Sign in' }} />
        <Stack.Screen name="register" options={{ title: 'Create account' }} />
        <Stack.Screen name="forgot" options={{ title: 'Forgot password' }} />
        <Stack.Screen name="event/[id]" options={{ title: 'Live event' }} />
        <Stack.Screen name="ticket/[id]" options={{ title: 'Ticket' }} />
        <Stack.Screen name="watch/[id]" options={{ title: 'Watch' }} />
        <Stack.Screen name="artist/[id]" options={{ title: 'Artist' }} />
        <Stack.Screen name="upload" options={{ title: 'Upload a video' }} />
        <Stack.Screen name="golive" options={{ title: 'Go live' }} />
        <Stack.Screen name="analytics" options={{ title: 'Analytics' }} />
        <Stack.Screen name="settings" options={{ title: 'Artist settings' }} />
      </Stack>
    </>
  );
}

export default function RootLayout() {
  return (
    <AppProvider>
      <Navigator />
    </AppProvider>
  );
}
