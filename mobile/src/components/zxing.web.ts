// expo-camera's web scanner decodes with zxing-wasm, which would fetch its .wasm from a CDN:
// point it at the copy shipped in the web build instead (scripts/copy-wasm.mjs).
import { setZXingModuleOverrides } from 'barcode-detector/ponyfill';

setZXingModuleOverrides({
  locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? `/${path}` : prefix + path),
});
