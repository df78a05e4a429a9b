// Pins the keys module's public surface (STYLE.md rule 2): dropping or adding an export fails here.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as keys from './index.js';
import {
  addSigningKey,
  createLocalSigner,
  decodeSigningKeys,
  deleteSigningKeys,
  EMPTY_SIGNING_KEYS,
  encodeSigningKeys,
  findSigningKey,
  KeysError,
  loadLocalSigner,
  setDefaultSigningKey,
  SigningKeyError,
  SigningKeysError,
  signRaw,
} from './index.js';
import type { KeysErrorCode, LocalKeyEntry, PluginKeyEntry, Signer, SigningKeyEntry, SigningKeysDocument } from './index.js';

describe('keys index', () => {
  it('exports exactly the public values', () => {
    const values = {
      addSigningKey,
      createLocalSigner,
      decodeSigningKeys,
      deleteSigningKeys,
      EMPTY_SIGNING_KEYS,
      encodeSigningKeys,
      findSigningKey,
      KeysError,
      loadLocalSigner,
      setDefaultSigningKey,
      SigningKeyError,
      SigningKeysError,
      signRaw,
    };
    assert.deepEqual(Object.keys(keys).sort(), Object.keys(values).sort());
    for (const [name, value] of Object.entries(values)) assert.equal(keys[name as keyof typeof keys], value, name);
  });

  it('keeps the error hierarchy and codes', () => {
    const codes: KeysErrorCode[] = ['SIGNING_KEYS_INVALID', 'KEY_NOT_FOUND', 'KEY_EXISTS', 'KEY_INVALID', 'KEY_UNSUPPORTED'];
    assert.equal(codes.length, 5);
    for (const cls of [SigningKeyError, SigningKeysError]) {
      const error = new cls('KEY_INVALID', 'x', { cause: 'c' });
      assert.ok(error instanceof KeysError && error instanceof Error);
      assert.deepEqual([error.name, error.code, error.message, error.cause], [cls.name, 'KEY_INVALID', 'x', 'c']);
    }
  });

  it('keeps EMPTY_SIGNING_KEYS empty and frozen', () => {
    assert.deepEqual(EMPTY_SIGNING_KEYS, { default: undefined, keys: [] });
    assert.ok(Object.isFrozen(EMPTY_SIGNING_KEYS) && Object.isFrozen(EMPTY_SIGNING_KEYS.keys));
  });

  it('exports the types the other modules use', () => {
    // Compile-time pins: each exported type is named once here.
    type Pinned = [KeysErrorCode, LocalKeyEntry, PluginKeyEntry, Signer, SigningKeyEntry, SigningKeysDocument];
    const count: Pinned['length'] = 6;
    assert.equal(count, 6);
  });
});
