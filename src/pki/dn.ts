// Distinguished names as the Notary Project trust policy writes them (`x509.subject:` trusted
// identities): RFC 4514 text parsed the way notation-go internal/pkix/pkix.go does, on top of
// go-ldap v3 ParseDN, so a policy Notation accepts is one Sigil accepts, and the same ones fail.

import { DistinguishedNameError } from './errors.js';

/** One attribute of a distinguished name: its type as written (`CN`, `O`, a dotted OID) and its value. */
export interface DistinguishedNameAttribute {
  readonly type: string;
  readonly value: string;
}

/** A distinguished name: its attributes in the order written, one per RDN. */
export type DistinguishedName = readonly DistinguishedNameAttribute[];

const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// go-ldap dn.go: characters that follow a backslash literally; anything else must be two hex digits.
const ESCAPABLE = new Set([...' "#+,;<=>\\'].map((c) => c.charCodeAt(0)));
const COMMA = 0x2c;
const PLUS = 0x2b;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;
const SPACE = 0x20;

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/**
 * Splits RFC 4514 text into RDNs of attributes with go-ldap v3 ParseDN's rules: `,` or `;` ends
 * an RDN and `+` an attribute; unescaped spaces around types and values are dropped; `\` takes one
 * special character or two hex digits (a UTF-8 byte); a later `=` belongs to the value; a trailing
 * `,` and an empty last value are ignored. Sigil additionally rejects a dangling `\` or `+`,
 * which go-ldap lets through. Throws a plain Error with the reason; callers wrap it.
 */
export function splitRelativeDistinguishedNames(text: string): DistinguishedNameAttribute[][] {
  const s = encoder.encode(text);
  const rdns: DistinguishedNameAttribute[][] = [];
  let rdn: DistinguishedNameAttribute[] = [];
  let buffer: number[] = [];
  let trailingSpaces = 0;
  let type = '';
  let escaping = false;
  const take = (): string => {
    const bytes = Uint8Array.from(buffer.slice(0, buffer.length - trailingSpaces));
    buffer = [];
    trailingSpaces = 0;
    try {
      return utf8.decode(bytes);
    } catch {
      throw new Error('an attribute is not valid UTF-8 once unescaped');
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as number;
    if (escaping) {
      escaping = false;
      trailingSpaces = 0;
      if (ESCAPABLE.has(c)) {
        buffer.push(c);
        continue;
      }
      const hi = hexValue(c);
      const lo = hexValue(s[i + 1]);
      if (hi < 0 || lo < 0) throw new Error(`"\\" at byte ${i - 1} is followed by neither a special character nor two hex digits`);
      buffer.push(hi * 16 + lo);
      i++;
    } else if (c === BACKSLASH) {
      escaping = true;
      trailingSpaces = 0;
    } else if (c === EQUALS && type === '') {
      type = take();
    } else if (c === COMMA || c === PLUS || c === SEMICOLON) {
      if (type === '') throw new Error(`an attribute before byte ${i} has no "type=" part`);
      rdn.push({ type, value: take() });
      type = '';
      if (c !== PLUS) {
        rdns.push(rdn);
        rdn = [];
      }
    } else if (c === SPACE && buffer.length === 0) {
      continue;
    } else {
      trailingSpaces = c === SPACE ? trailingSpaces + 1 : 0;
      buffer.push(c);
    }
  }
  if (escaping) throw new Error('it ends with an incomplete "\\" escape');
  if (buffer.length > 0) {
    if (type === '') throw new Error('it ends with an attribute that has no "type=" part');
    rdn.push({ type, value: take() });
    rdns.push(rdn);
  } else if (rdn.length > 0) {
    // go-ldap silently drops an RDN left open by a final "+"; that hides a typo, so Sigil refuses.
    throw new Error('it ends with "+" and an incomplete multi-valued RDN');
  }
  return rdns;
}

const MANDATORY = ['C', 'ST', 'O'] as const;

function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * Parses a trusted identity DN (notation-go ParseDistinguishedName minus the mandatory-attribute
 * check, which validateTrustedIdentityName adds): rejects `=#` hex values, multi-valued RDNs and
 * repeated attribute types, and reads `S` as `ST`. Attribute types stay case-sensitive, as in Go.
 */
export function parseDistinguishedName(text: string): DistinguishedName {
  // notation-go rejects "=#" anywhere: go-asn1-ber could be made to allocate without bound
  // decoding hex values (notation-go#276).
  if (text.includes('=#')) {
    throw new DistinguishedNameError('DN_INVALID', `unsupported distinguished name (DN) ${quote(text)}: notation does not support x509.subject identities containing "=#"`);
  }
  let rdns: DistinguishedNameAttribute[][];
  try {
    rdns = splitRelativeDistinguishedNames(text);
  } catch (e) {
    throw new DistinguishedNameError('DN_INVALID', `distinguished name (DN) ${quote(text)} does not follow RFC 4514: ${(e as Error).message}`, { cause: e });
  }
  const seen = new Set<string>();
  const out: DistinguishedNameAttribute[] = [];
  for (const rdn of rdns) {
    if (rdn.length > 1) {
      throw new DistinguishedNameError('DN_INVALID', `distinguished name (DN) ${quote(text)} has multi-valued RDN attributes, remove multi-valued RDN attributes as they are not supported`);
    }
    for (const attr of rdn) {
      // Sigil reads the `S` alias as `ST` (Go's certificates always say ST), so `S=WA` in a policy
      // matches a certificate with ST=WA and `ST=WA, S=WA` is a duplicate. notation-go keeps `S`
      // as its own key, which can never match a certificate subject.
      const type = attr.type === 'S' ? 'ST' : attr.type;
      if (seen.has(type)) {
        throw new DistinguishedNameError('DN_INVALID', `distinguished name (DN) ${quote(text)} has duplicate RDN attribute for ${quote(type)}, DN can only have unique RDN attributes`);
      }
      seen.add(type);
      out.push(Object.freeze({ type, value: attr.value }));
    }
  }
  return Object.freeze(out);
}

/**
 * Checks that a trusted identity DN has non-empty C, ST and O attributes (Notary Project trust
 * policy, Trusted Identities); parses it first when given text. Returns the parsed DN.
 */
export function validateTrustedIdentityName(name: string | DistinguishedName): DistinguishedName {
  const dn = typeof name === 'string' ? parseDistinguishedName(name) : name;
  const text = typeof name === 'string' ? name : formatDistinguishedName(name);
  for (const field of MANDATORY) {
    if (!dn.some((a) => a.type === field && a.value !== '')) {
      throw new DistinguishedNameError(
        'DN_INVALID',
        `distinguished name (DN) ${quote(text)} has no mandatory RDN attribute for ${quote(field)}, it must contain 'C', 'ST', and 'O' RDN attributes at a minimum`,
      );
    }
  }
  return dn;
}

/**
 * True when every attribute of `required` appears in `actual` with exactly the same value
 * (notation-go IsSubsetDN; as there, a missing attribute counts as the empty value).
 */
export function isSubsetOf(required: DistinguishedName, actual: DistinguishedName): boolean {
  return required.every((r) => (actual.find((a) => a.type === r.type)?.value ?? '') === r.value);
}

/**
 * Escapes an attribute value as Go's pkix RDNSequence.String does: `,+"\<>;` always, a leading
 * `#` or space, and a trailing space.
 */
export function escapeDistinguishedNameValue(value: string): string {
  const chars = [...value];
  return chars
    .map((c, k) => {
      const escape = ',+"\\<>;'.includes(c) || (c === ' ' && (k === 0 || k === chars.length - 1)) || (c === '#' && k === 0);
      return escape ? `\\${c}` : c;
    })
    .join('');
}

/** Writes a DN as RFC 4514 text in the order given (`C=US,ST=WA,O=Notary`), escaping as Go does. */
export function formatDistinguishedName(dn: DistinguishedName): string {
  return dn.map((a) => `${a.type}=${escapeDistinguishedNameValue(a.value)}`).join(',');
}
