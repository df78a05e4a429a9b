import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeysError, SigningKeysError, type KeysErrorCode } from './errors.js';
import {
  addSigningKey,
  decodeSigningKeys,
  deleteSigningKeys,
  EMPTY_SIGNING_KEYS,
  encodeSigningKeys,
  findSigningKey,
  setDefaultSigningKey,
  type LocalKeyEntry,
  type PluginKeyEntry,
  type SigningKeysDocument,
} from './signingkeys.js';

/**
 * signingkeys.json as notation-go writes it (config/base.go save: json.Encoder, four-space indent,
 * trailing newline; config/keys.go field order and omitempty), with one local and two plugin keys.
 */
const NOTATION_FILE = `{
    "default": "wabbit-networks",
    "keys": [
        {
            "name": "e2e",
            "keyPath": "/home/user/.config/notation/localkeys/e2e.key",
            "certPath": "/home/user/.config/notation/localkeys/e2e.crt"
        },
        {
            "name": "wabbit-networks",
            "id": "arn:aws:signer:us-west-2:123456789012:/signing-profiles/wabbit",
            "pluginName": "com.amazonaws.signer.notation.plugin",
            "pluginConfig": {
                "aws-region": "us-west-2",
                "profile": "ci"
            }
        },
        {
            "name": "hsm",
            "id": "pkcs11:token=ci;object=key",
            "pluginName": "com.example.hsm"
        }
    ]
}
`;

const LOCAL: LocalKeyEntry = { kind: 'local', name: 'e2e', keyPath: '/k/e2e.key', certPath: '/k/e2e.crt' };
const PLUGIN: PluginKeyEntry = { kind: 'plugin', name: 'kms', id: 'key-1', pluginName: 'com.example.kms', pluginConfig: { region: 'eu' } };

function throwsCode(fn: () => unknown, code: KeysErrorCode, what?: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof SigningKeysError, `${what ?? ''}: ${String(e)}`);
      assert.ok(e instanceof KeysError);
      assert.equal(e.code, code, what);
      return true;
    },
    what,
  );
}

describe('signingkeys.json codec', () => {
  it('decodes Notation’s file: local and plugin entries and the default', () => {
    const doc = decodeSigningKeys(NOTATION_FILE, 'signingkeys.json');
    assert.equal(doc.default, 'wabbit-networks');
    assert.deepEqual(doc.keys, [
      { kind: 'local', name: 'e2e', keyPath: '/home/user/.config/notation/localkeys/e2e.key', certPath: '/home/user/.config/notation/localkeys/e2e.crt' },
      { kind: 'plugin', name: 'wabbit-networks', id: 'arn:aws:signer:us-west-2:123456789012:/signing-profiles/wabbit', pluginName: 'com.amazonaws.signer.notation.plugin', pluginConfig: { 'aws-region': 'us-west-2', profile: 'ci' } },
      { kind: 'plugin', name: 'hsm', id: 'pkcs11:token=ci;object=key', pluginName: 'com.example.hsm', pluginConfig: {} },
    ]);
    assert.ok(Object.isFrozen(doc));
    assert.ok(Object.isFrozen(doc.keys));
    assert.ok(doc.keys.every((k) => Object.isFrozen(k)));
  });

  it('encodes byte for byte what Notation writes, so a round trip changes nothing', () => {
    assert.equal(encodeSigningKeys(decodeSigningKeys(NOTATION_FILE, 'signingkeys.json')), NOTATION_FILE);
  });

  it('writes an empty document as Notation does: no default, an empty keys array', () => {
    assert.equal(encodeSigningKeys(EMPTY_SIGNING_KEYS), '{\n    "keys": []\n}\n');
    assert.deepEqual(decodeSigningKeys(encodeSigningKeys(EMPTY_SIGNING_KEYS), 's'), EMPTY_SIGNING_KEYS);
  });

  it('escapes <, > and & as Go’s encoding/json does, and reads them back', () => {
    const doc: SigningKeysDocument = { default: undefined, keys: [{ ...LOCAL, keyPath: '/keys/a&b<c>.key' }] };
    const text = encodeSigningKeys(doc);
    assert.match(text, /"keyPath": "\/keys\/a\\u0026b\\u003cc\\u003e\.key"/);
    assert.deepEqual(decodeSigningKeys(text, 's').keys, doc.keys);
  });

  it('sorts pluginConfig keys as Go writes maps, and omits an empty pluginConfig', () => {
    const text = encodeSigningKeys({ default: undefined, keys: [{ ...PLUGIN, pluginConfig: { b: '2', a: '1', C: '3' } }, { ...PLUGIN, name: 'bare', pluginConfig: {} }] });
    const keys = (JSON.parse(text) as { keys: Record<string, unknown>[] }).keys;
    assert.deepEqual(Object.keys(keys[0]?.pluginConfig as object), ['C', 'a', 'b']);
    assert.equal('pluginConfig' in (keys[1] as object), false);
  });

  it('reads absent and null fields as Go does: unset', () => {
    assert.deepEqual(decodeSigningKeys('{}', 's'), EMPTY_SIGNING_KEYS);
    assert.deepEqual(decodeSigningKeys('{"default":null,"keys":null}', 's'), EMPTY_SIGNING_KEYS);
    const doc = decodeSigningKeys('{"keys":[{"name":"k","keyPath":"/a","certPath":"/b","id":null,"pluginName":"","pluginConfig":null}]}', 's');
    assert.deepEqual(doc.keys, [{ kind: 'local', name: 'k', keyPath: '/a', certPath: '/b' }]);
  });

  it('keeps plugin config keys named like Object.prototype members as data', () => {
    const doc = decodeSigningKeys('{"keys":[{"name":"k","id":"i","pluginName":"p","pluginConfig":{"__proto__":"x","toString":"y"}}]}', 's');
    const entry = doc.keys[0] as PluginKeyEntry;
    assert.deepEqual(Object.entries(entry.pluginConfig), [
      ['__proto__', 'x'],
      ['toString', 'y'],
    ]);
    assert.match(encodeSigningKeys(doc), /"__proto__": "x"/);
  });

  it('refuses malformed documents with SIGNING_KEYS_INVALID, naming the source', () => {
    const cases: readonly [string, string][] = [
      ['not JSON', '{"keys": ['],
      ['an array', '[]'],
      ['a string', '"keys"'],
      ['null', 'null'],
      ['keys not an array', '{"keys":{}}'],
      ['an entry that is not an object', '{"keys":["e2e"]}'],
      ['an entry without a name', '{"keys":[{"keyPath":"/a","certPath":"/b"}]}'],
      ['an empty name', '{"keys":[{"name":"","keyPath":"/a","certPath":"/b"}]}'],
      ['a name that is not a string', '{"keys":[{"name":7,"keyPath":"/a","certPath":"/b"}]}'],
      ['two keys of one name', '{"keys":[{"name":"k","keyPath":"/a","certPath":"/b"},{"name":"k","id":"i","pluginName":"p"}]}'],
      ['a default not in keys', '{"default":"x","keys":[{"name":"k","keyPath":"/a","certPath":"/b"}]}'],
      ['an empty default', '{"default":"","keys":[{"name":"k","keyPath":"/a","certPath":"/b"}]}'],
      ['a default that is not a string', '{"default":1,"keys":[]}'],
      ['a local key without certPath', '{"keys":[{"name":"k","keyPath":"/a"}]}'],
      ['a local key without keyPath', '{"keys":[{"name":"k","certPath":"/b"}]}'],
      ['an entry that is local and plugin at once', '{"keys":[{"name":"k","keyPath":"/a","certPath":"/b","id":"i","pluginName":"p"}]}'],
      ['a plugin key without pluginName', '{"keys":[{"name":"k","id":"i"}]}'],
      ['a plugin key without id', '{"keys":[{"name":"k","pluginName":"p"}]}'],
      ['an entry with neither', '{"keys":[{"name":"k"}]}'],
      ['a pluginConfig that is an array', '{"keys":[{"name":"k","id":"i","pluginName":"p","pluginConfig":["a"]}]}'],
      ['a pluginConfig value that is not a string', '{"keys":[{"name":"k","id":"i","pluginName":"p","pluginConfig":{"a":1}}]}'],
      ['a keyPath that is not a string', '{"keys":[{"name":"k","keyPath":1,"certPath":"/b"}]}'],
    ];
    for (const [what, text] of cases) {
      throwsCode(() => decodeSigningKeys(text, '/cfg/signingkeys.json'), 'SIGNING_KEYS_INVALID', what);
      assert.throws(() => decodeSigningKeys(text, '/cfg/signingkeys.json'), /^SigningKeysError: \/cfg\/signingkeys\.json: /, what);
    }
  });
});

describe('signing key operations', () => {
  const doc = decodeSigningKeys(NOTATION_FILE, 'signingkeys.json');

  it('finds a key by name, or the default when no name is given', () => {
    assert.equal(findSigningKey(doc, 'e2e').kind, 'local');
    assert.equal(findSigningKey(doc, undefined).name, 'wabbit-networks');
  });

  it('says KEY_NOT_FOUND for an unknown name, and when there is no default to fall back to', () => {
    throwsCode(() => findSigningKey(doc, 'nope'), 'KEY_NOT_FOUND');
    throwsCode(() => findSigningKey(EMPTY_SIGNING_KEYS, undefined), 'KEY_NOT_FOUND');
  });

  it('adds a key, optionally as the default, without touching the original document', () => {
    const added = addSigningKey(EMPTY_SIGNING_KEYS, LOCAL);
    assert.deepEqual(added, { default: undefined, keys: [LOCAL] });
    assert.deepEqual(EMPTY_SIGNING_KEYS, { default: undefined, keys: [] });
    const withDefault = addSigningKey(added, PLUGIN, { makeDefault: true });
    assert.equal(withDefault.default, 'kms');
    assert.deepEqual(withDefault.keys, [LOCAL, PLUGIN]);
    assert.ok(Object.isFrozen(withDefault) && Object.isFrozen(withDefault.keys));
    assert.deepEqual(decodeSigningKeys(encodeSigningKeys(withDefault), 's'), withDefault);
  });

  it('refuses to add a name twice (KEY_EXISTS) or an empty name', () => {
    throwsCode(() => addSigningKey(doc, { ...PLUGIN, name: 'e2e' }), 'KEY_EXISTS');
    throwsCode(() => addSigningKey(doc, { ...LOCAL, name: '' }), 'SIGNING_KEYS_INVALID');
  });

  it('sets the default to an existing key only', () => {
    assert.equal(setDefaultSigningKey(doc, 'hsm').default, 'hsm');
    assert.equal(doc.default, 'wabbit-networks');
    throwsCode(() => setDefaultSigningKey(doc, 'nope'), 'KEY_NOT_FOUND');
  });

  it('deletes keys, unsetting the default when it goes, and refuses unknown names', () => {
    const kept = deleteSigningKeys(doc, ['e2e']);
    assert.deepEqual(
      kept.keys.map((k) => k.name),
      ['wabbit-networks', 'hsm'],
    );
    assert.equal(kept.default, 'wabbit-networks');
    const noDefault = deleteSigningKeys(doc, ['wabbit-networks', 'hsm']);
    assert.equal(noDefault.default, undefined);
    assert.equal(encodeSigningKeys(noDefault).includes('"default"'), false);
    throwsCode(() => deleteSigningKeys(doc, ['e2e', 'nope']), 'KEY_NOT_FOUND');
    assert.equal(doc.keys.length, 3);
  });
});
