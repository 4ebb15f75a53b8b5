import { CameraView, useCameraPermissions } from 'expo-camera';
import { View } from 'react-native';
import { Body, Button } from './ui';
import './zxing';

/** Scans a ticket QR with the camera (the door's phone, or the fan's second device). */
export function Scanner({ onCode }: { onCode: (code: string) => void }) {
  const [permission, request] = useCameraPermissions();
  if (!permission) return <Body muted>Checking camera access…</Body>;
  if (!permission.granted) {
    return (
      <View style={{ gap: 8 }}>
        <Body muted>The camera is needed to scan a ticket.</Body>
        <Button title="Allow camera" onPress={() => void request()} />
      </View>
    );
  }
  return (
    <CameraView
      testID="scanner"
      style={{ width: '100%', aspectRatio: 1 }}
      facing="back"
      barcodeScannerSettings={{ barcodeTypes: ['qr'] }}
      onBarcodeScanned={(result) => onCode(result.data)}
    />
  );
}
