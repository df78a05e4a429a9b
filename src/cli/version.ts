// The version Sigil reports, and the signing agent string it writes into signatures.

/** Sigil's version (package.json). */
export const VERSION = '0.1.0';

/** `io.cncf.notary.signingAgent` of every signature Sigil makes. */
export const SIGNING_AGENT = `sigil/${VERSION}`;
