// The keys module: signing keys behind one Signer interface, and Notation's signingkeys.json.
// Implements the plugin-extensibility.md RAW signing contract for local keys.

export { KeysError, SigningKeyError, SigningKeysError } from './errors.js';
export type { KeysErrorCode } from './errors.js';
export { createLocalSigner, loadLocalSigner, signRaw } from './signer.js';
export type { Signer } from './signer.js';
export {
  addSigningKey,
  decodeSigningKeys,
  deleteSigningKeys,
  EMPTY_SIGNING_KEYS,
  encodeSigningKeys,
  findSigningKey,
  setDefaultSigningKey,
} from './signingkeys.js';
export type { LocalKeyEntry, PluginKeyEntry, SigningKeyEntry, SigningKeysDocument } from './signingkeys.js';
