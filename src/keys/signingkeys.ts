// signingkeys.json, read and written in Notation's format (notation-go config/keys.go), so one
// file serves both tools: {"default": NAME, "keys": [{name, keyPath, certPath} | {name, id, pluginName, pluginConfig}]}.

import { SigningKeysError } from './errors.js';

/** A key whose PKCS#8 key file and certificate chain file are on disk. */
export interface LocalKeyEntry {
  readonly kind: 'local';
  readonly name: string;
  readonly keyPath: string;
  readonly certPath: string;
}

/** A key held by a plugin (KMS, HSM, signing service), named by the plugin's key id. */
export interface PluginKeyEntry {
  readonly kind: 'plugin';
  readonly name: string;
  readonly id: string;
  readonly pluginName: string;
  readonly pluginConfig: Readonly<Record<string, string>>;
}

/** One entry of signingkeys.json. */
export type SigningKeyEntry = LocalKeyEntry | PluginKeyEntry;

/** The whole signingkeys.json document. */
export interface SigningKeysDocument {
  readonly default: string | undefined;
  readonly keys: readonly SigningKeyEntry[];
}

/** An empty document, what a missing signingkeys.json means. */
export const EMPTY_SIGNING_KEYS: SigningKeysDocument = Object.freeze({ default: undefined, keys: Object.freeze([]) });

function fail(source: string, problem: string): never {
  throw new SigningKeysError('SIGNING_KEYS_INVALID', `${source}: ${problem}`);
}

/** A Go string field: absent, null (Go leaves the field empty) or "" is unset; any other non-string is malformed. */
function optionalString(entry: Record<string, unknown>, key: string, where: string, source: string): string | undefined {
  const value = entry[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') fail(source, `${where}.${key} must be a string`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Decodes signingkeys.json; entries must be either local (keyPath+certPath) or plugin (id+pluginName).
 * Names must be non-empty and unique, and `default`, when set, non-empty and one of them
 * (notation-go config/keys.go validateKeys). Throws SigningKeysError(SIGNING_KEYS_INVALID) naming `source`.
 */
export function decodeSigningKeys(text: string, source: string): SigningKeysDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(source, `malformed JSON (${(error as Error).message})`);
  }
  if (!isObject(json)) fail(source, 'must be a JSON object');
  const rawKeys = json.keys ?? [];
  if (!Array.isArray(rawKeys)) fail(source, '"keys" must be an array');
  const names = new Set<string>();
  const keys = rawKeys.map((raw: unknown, i): SigningKeyEntry => {
    const where = `keys[${i}]`;
    if (!isObject(raw)) fail(source, `${where} must be an object`);
    const name = optionalString(raw, 'name', where, source);
    if (name === undefined) fail(source, `${where}: key name cannot be empty`);
    if (names.has(name)) fail(source, `multiple keys with name "${name}" found`);
    names.add(name);
    const keyPath = optionalString(raw, 'keyPath', where, source);
    const certPath = optionalString(raw, 'certPath', where, source);
    const id = optionalString(raw, 'id', where, source);
    const pluginName = optionalString(raw, 'pluginName', where, source);
    if (keyPath !== undefined || certPath !== undefined) {
      if (keyPath === undefined || certPath === undefined) fail(source, `key "${name}" needs both keyPath and certPath`);
      if (id !== undefined || pluginName !== undefined) fail(source, `key "${name}" is both a local key and a plugin key`);
      return Object.freeze({ kind: 'local', name, keyPath, certPath });
    }
    if (id === undefined || pluginName === undefined) fail(source, `key "${name}" needs keyPath and certPath, or id and pluginName`);
    const config = raw.pluginConfig ?? {};
    if (!isObject(config)) fail(source, `key "${name}" pluginConfig must be an object`);
    for (const [k, v] of Object.entries(config)) if (typeof v !== 'string') fail(source, `key "${name}" pluginConfig.${k} must be a string`);
    return Object.freeze({ kind: 'plugin', name, id, pluginName, pluginConfig: Object.freeze(Object.fromEntries(Object.entries(config as Record<string, string>))) });
  });
  // Go's *string: absent or null is unset; "" is set and empty, which notation-go refuses.
  const defaultName = json.default ?? undefined;
  if (defaultName !== undefined && typeof defaultName !== 'string') fail(source, '"default" must be a string');
  if (defaultName === '') fail(source, 'default key name cannot be empty');
  if (defaultName !== undefined && !names.has(defaultName)) fail(source, `default key "${defaultName}" not found in "keys"`);
  return Object.freeze({ default: defaultName, keys: Object.freeze(keys) });
}

/** Go's encoding/json escapes these inside strings (HTML safety, and JavaScript line terminators). */
function escapeLikeGo(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Encodes the document byte for byte as notation-go saves it (config/base.go: json.Encoder with a
 * four-space indent, HTML characters escaped, a final newline): `default` first and omitted when
 * unset, `keys` always present, each entry's fields in Go struct order, an empty pluginConfig omitted.
 */
export function encodeSigningKeys(doc: SigningKeysDocument): string {
  const keys = doc.keys.map((k) =>
    k.kind === 'local'
      ? { name: k.name, keyPath: k.keyPath, certPath: k.certPath }
      : { name: k.name, id: k.id, pluginName: k.pluginName, ...(Object.keys(k.pluginConfig).length > 0 ? { pluginConfig: sortedObject(k.pluginConfig) } : {}) },
  );
  return `${escapeLikeGo(JSON.stringify({ ...(doc.default === undefined ? {} : { default: doc.default }), keys }, null, 4))}\n`;
}

/** Go writes map keys sorted (by bytes; UTF-16 order is the same for the BMP). */
function sortedObject(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The entry called `name`, or the default when `name` is undefined; a clear error when there is none. */
export function findSigningKey(doc: SigningKeysDocument, name: string | undefined): SigningKeyEntry {
  const wanted = name ?? doc.default;
  if (wanted === undefined) {
    throw new SigningKeysError('KEY_NOT_FOUND', 'no signing key given and no default key is set; use --key NAME, or sigil key update NAME --default');
  }
  const entry = doc.keys.find((k) => k.name === wanted);
  if (entry === undefined) throw new SigningKeysError('KEY_NOT_FOUND', `signing key "${wanted}" is not in signingkeys.json; see sigil key ls`);
  return entry;
}

/** A new document with `entry` added (optionally as the default); a name can be used once. */
export function addSigningKey(doc: SigningKeysDocument, entry: SigningKeyEntry, options: { makeDefault?: boolean } = {}): SigningKeysDocument {
  if (entry.name === '') throw new SigningKeysError('SIGNING_KEYS_INVALID', 'key name cannot be empty');
  if (doc.keys.some((k) => k.name === entry.name)) throw new SigningKeysError('KEY_EXISTS', `signing key "${entry.name}" already exists; delete it first or pick another name`);
  return Object.freeze({ default: options.makeDefault === true ? entry.name : doc.default, keys: Object.freeze([...doc.keys, Object.freeze(entry)]) });
}

/** A new document with `name` as the default key. */
export function setDefaultSigningKey(doc: SigningKeysDocument, name: string): SigningKeysDocument {
  findSigningKey(doc, name);
  return Object.freeze({ default: name, keys: doc.keys });
}

/** A new document without the named keys; unknown names are an error, and deleting the default unsets it. */
export function deleteSigningKeys(doc: SigningKeysDocument, names: readonly string[]): SigningKeysDocument {
  for (const name of names) findSigningKey(doc, name);
  const keys = doc.keys.filter((k) => !names.includes(k.name));
  const defaultName = doc.default !== undefined && names.includes(doc.default) ? undefined : doc.default;
  return Object.freeze({ default: defaultName, keys: Object.freeze(keys) });
}
