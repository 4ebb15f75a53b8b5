// Ships zxing's reader wasm with the web build (served from /), so scanning needs no CDN.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// The package's exports hide package.json; its reader entry sits beside the wasm.
const reader = dirname(require.resolve('zxing-wasm/reader'));
const here = dirname(new URL(import.meta.url).pathname);
const wasm = [join(reader, 'zxing_reader.wasm'), join(reader, '..', '..', 'reader', 'zxing_reader.wasm')].find(existsSync);
if (!wasm) throw new Error(`zxing_reader.wasm not found near ${reader}`);
mkdirSync(join(here, '..', 'public'), { recursive: true });
copyFileSync(wasm, join(here, '..', 'public', 'zxing_reader.wasm'));
