import { useRouter } from 'expo-router';
import { useEffect, useState } from 'react';
import { Switch, View } from 'react-native';
import { account, auth, money, tickets } from '../../src/api/endpoints';
import type { Preferences } from '../../src/api/types';
import { useApp } from '../../src/AppContext';
import { Body, Button, Card, Choice, ErrorBanner, Row, Screen, Title } from '../../src/components/ui';
import { useAction, useAsync } from '../../src/hooks/useAsync';
import { forgetAll } from '../../src/lib/grants';
import { formatMoney, REALMS, THEMES } from '../../src/theme';

export default function Account() {
  const { api, session, theme, setRealm } = useApp();
  const router = useRouter();
  const prefs = useAsync(() => account.preferences(api), [api]);
  const tips = useAsync(() => money.tips(api), [api]);
  const mine = useAsync(() => tickets.mine(api), [api]);
  const [local, setLocal] = useState<Preferences | null>(null);

  useEffect(() => {
    if (!prefs.data) return;
    setLocal(prefs.data);
    setRealm(prefs.data.realm);
  }, [prefs.data, setRealm]);

  const save = useAction(async (change: Partial<Preferences>) => {
    if (change.realm) setRealm(change.realm);
    setLocal((old) => (old ? { ...old, ...change } : old));
    setLocal(await account.savePreferences(api, change));
  });
  const logout = useAction(async (everywhere: boolean = false) => {
    forgetAll();
    await auth.logout(api, everywhere);
    router.replace('/login');
  });

  return (
    <Screen>
      <Title>Account</Title>
      <Body>
        {session?.user.display_name} · {session?.user.email} · {session?.user.role}
      </Body>
      <Body muted>Theme</Body>
      <Choice
        options={REALMS}
        value={theme.realm}
        onChange={(realm) => void save.run({ realm })}
        labels={{ inferno: THEMES.inferno.name, purgatorio: THEMES.purgatorio.name, paradiso: THEMES.paradiso.name }}
      />
      <ErrorBanner message={prefs.error ?? save.error} />
      {local
        ? Object.entries(local.notifications ?? {}).map(([key, on]) => (
            <Row key={key}>
              <Switch value={on} onValueChange={(value) => void save.run({ notifications: { ...local.notifications, [key]: value } })} />
              <Body>{key.replace(/_/g, ' ')}</Body>
            </Row>
          ))
        : null}
      <Body muted>Tickets</Body>
      <ErrorBanner message={mine.error} onRetry={mine.reload} />
      {mine.data?.tickets.map((t) => (
        <Card key={t.id}>
          <Body>
            {formatMoney(t.price, t.currency)} · {t.status} · {new Date(t.created_at).toLocaleDateString()}
          </Body>
        </Card>
      ))}
      <Body muted>Tips</Body>
      <ErrorBanner message={tips.error} onRetry={tips.reload} />
      {tips.data?.tips.map((t) => (
        <Card key={t.id} testID="tip-row">
          <Body>
            {formatMoney(t.amount, t.currency)} · {t.status} · {new Date(t.created_at).toLocaleDateString()}
          </Body>
          {t.message ? <Body muted>{t.message}</Body> : null}
        </Card>
      ))}
      <View style={{ marginTop: 16 }}>
        <Button kind="danger" title="Sign out" onPress={() => void logout.run(false)} busy={logout.busy} testID="logout" />
        <Button
          kind="danger"
          title="Sign out everywhere"
          onPress={() => void logout.run(true)}
          busy={logout.busy}
          testID="logout-everywhere"
        />
        <ErrorBanner message={logout.error} />
      </View>
    </Screen>
  );
}
