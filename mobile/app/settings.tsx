import { useState } from 'react';
import { account, money } from '../src/api/endpoints';
import { useApp } from '../src/AppContext';
import { Body, Button, Card, Choice, ErrorBanner, Field, Screen, Title } from '../src/components/ui';
import { useAction, useAsync } from '../src/hooks/useAsync';
import { formatMoney, REALMS, THEMES } from '../src/theme';

export default function ArtistSettings() {
  const { api, theme, setRealm } = useApp();
  const balance = useAsync(() => money.balance(api), [api]);
  const [iban, setIban] = useState('');
  const [name, setName] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const sepa = useAction(async () => {
    await money.sepaAccount(api, iban.replace(/\s+/g, ''), name.trim());
    setSaved('Payout account saved.');
  });
  const realm = useAction(async (next: (typeof REALMS)[number]) => {
    setRealm(next);
    await account.savePreferences(api, { realm: next });
  });
  return (
    <Screen>
      <Title>Artist settings</Title>
      <Body muted>Balance</Body>
      <ErrorBanner message={balance.error} onRetry={balance.reload} />
      {balance.data?.balances.map((b) => (
        <Card key={b.currency}>
          <Body>Available {formatMoney(b.available, b.currency)}</Body>
          <Body muted>
            Pending {formatMoney(b.pending, b.currency)} · in transit {formatMoney(b.in_transit, b.currency)}
          </Body>
        </Card>
      ))}
      <Body muted>Payout method (SEPA)</Body>
      <Field label="IBAN" value={iban} onChangeText={setIban} autoCapitalize="characters" />
      <Field label="Account holder" value={name} onChangeText={setName} autoCapitalize="words" />
      <ErrorBanner message={sepa.error} />
      {saved ? <Body>{saved}</Body> : null}
      <Button title="Save payout account" onPress={() => void sepa.run()} busy={sepa.busy} disabled={!iban || !name} />
      <Body muted>Realm of my channel</Body>
      <Choice options={REALMS} value={theme.realm} onChange={(r) => void realm.run(r)} labels={{ inferno: THEMES.inferno.name, purgatorio: THEMES.purgatorio.name, paradiso: THEMES.paradiso.name }} />
      <ErrorBanner message={realm.error} />
    </Screen>
  );
}
