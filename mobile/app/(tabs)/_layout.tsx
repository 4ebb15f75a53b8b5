import { Redirect, Tabs } from 'expo-router';
import { Text, type ColorValue } from 'react-native';
import { useApp } from '../../src/AppContext';

const icon = (glyph: string) => ({ color }: { color: ColorValue }) => <Text style={{ color, fontSize: 18 }}>{glyph}</Text>;

export default function TabsLayout() {
  const { ready, session, theme } = useApp();
  if (ready && !session) return <Redirect href="/login" />;
  const artist = session?.user.role === 'artist' || session?.user.role === 'admin';
  return (
    <Tabs
      screenOptions={{
        headerStyle: { backgroundColor: theme.card },
        headerTintColor: theme.text,
        tabBarStyle: { backgroundColor: theme.card, borderTopColor: theme.border },
        tabBarActiveTintColor: theme.accent,
        tabBarInactiveTintColor: theme.muted,
        sceneStyle: { backgroundColor: theme.background },
      }}
    >
      <Tabs.Screen name="feed" options={{ title: 'Feed', tabBarIcon: icon('▶') }} />
      <Tabs.Screen name="live" options={{ title: 'Live', tabBarIcon: icon('●') }} />
      <Tabs.Screen name="tickets" options={{ title: 'Tickets', tabBarIcon: icon('◆') }} />
      <Tabs.Screen name="studio" options={{ title: 'Studio', tabBarIcon: icon('★'), href: artist ? undefined : null }} />
      <Tabs.Screen name="account" options={{ title: 'Account', tabBarIcon: icon('☰') }} />
    </Tabs>
  );
}
