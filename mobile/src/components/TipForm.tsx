import { useState } from 'react';
import { View } from 'react-native';
import { money } from '../api/endpoints';
import { useApp } from '../AppContext';
import { useAction } from '../hooks/useAsync';
import { formatMoney } from '../theme';
import { Body, Button, ErrorBanner, Field, Row } from './ui';

/** Tip the artist (dev provider confirms at once; Stripe's sheet on phones in production). */
export function TipForm({ artistId, videoId, eventId, currency = 'EUR' }: { artistId: string; videoId?: string; eventId?: string; currency?: string }) {
  const { api } = useApp();
  const [amount, setAmount] = useState('2.00');
  const [message, setMessage] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const tip = useAction(async () => {
    const minor = Math.round(Number(amount.replace(',', '.')) * 100);
    if (!Number.isFinite(minor) || minor < 1) throw new Error('Enter an amount like 2.50');
    const reply = await money.tip(api, { artistId, amount: minor, currency, videoId, eventId, message: message.trim() || undefined });
    setDone(`Thank you! ${formatMoney(minor, currency)} tip ${reply.status}.`);
    setMessage('');
  });
  return (
    <View style={{ gap: 8 }} testID="tip-form">
      <Body muted>Tip the artist</Body>
      <Row>
        <View style={{ flex: 1 }}>
          <Field label={`Amount (${currency})`} value={amount} onChangeText={setAmount} keyboardType="decimal-pad" testID="tip-amount" />
        </View>
      </Row>
      <Field label="Message (optional)" value={message} onChangeText={setMessage} maxLength={280} />
      <ErrorBanner message={tip.error} />
      {done ? <Body testID="tip-done">{done}</Body> : null}
      <Button title="Send tip" onPress={() => void tip.run()} busy={tip.busy} testID="tip-send" />
    </View>
  );
}
