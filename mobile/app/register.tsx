import { useRouter } from 'expo-router';
import { useState } from 'react';
import { auth } from '../src/api/endpoints';
import { useApp } from '../src/AppContext';
import { Body, Button, Choice, ErrorBanner, Field, Screen, Title } from '../src/components/ui';
import { useAction } from '../src/hooks/useAsync';

export default function Register() {
  const { api } = useApp();
  const router = useRouter();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<'fan' | 'artist'>('fan');
  const register = useAction(async () => {
    if (password.length < 8) throw new Error('Use at least 8 characters for the password.');
    await auth.register(api, { email: email.trim(), password, display_name: name.trim(), role });
    router.replace('/feed');
  });
  return (
    <Screen>
      <Title>Create your account</Title>
      <Choice options={['fan', 'artist'] as const} value={role} onChange={setRole} labels={{ fan: 'I am a fan', artist: 'I am an artist' }} />
      <Field label="Display name" value={name} onChangeText={setName} autoCapitalize="words" testID="display-name" />
      <Field label="Email" value={email} onChangeText={setEmail} keyboardType="email-address" testID="email" />
      <Field label="Password (8 characters or more)" value={password} onChangeText={setPassword} secureTextEntry testID="password" />
      <ErrorBanner message={register.error} />
      <Button title="Create account" onPress={() => void register.run()} busy={register.busy} disabled={!email || !password} testID="register" />
      <Body muted>Artists can upload videos, go live and see their analytics.</Body>
    </Screen>
  );
}
