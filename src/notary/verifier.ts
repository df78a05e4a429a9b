// Verifies one Notary signature against one trust policy statement, as steps named after the
// spec in the spec's order (trust-store-trust-policy.md, Signature Verification details):
// integrity → authenticity (and trusted identities) → expiry → authentic timestamp → revocation.
// Each step returns a ValidationResult; an enforced failure stops (notation-go verifier.go).

import {
  decodeCertificate,
  isSubsetOf,
  isValidAt,
  keySpecOf,
  parseDistinguishedName,
  validateCodeSigningChain,
  type Certificate,
} from '../pki/index.js';
import type { Descriptor } from '../oci/index.js';
import { algorithmForKeySpec } from './algorithm.js';
import { decodeEnvelope, verifySignatureBytes } from './codec.js';
import { PAYLOAD_CONTENT_TYPE, type DecodedEnvelope, type SigningScheme } from './envelope.js';
import type { ValidationAction, ValidationType } from './levels.js';
import { decodeEnvelopePayload } from './payload.js';
import { isSameArtifact } from './sign.js';
import type { TrustPolicyStatement } from './trustpolicy.js';
import type { TrustStore } from './truststore.js';

/** The outcome of one check: passed, failed (with why), or skipped (with why). */
export interface ValidationResult {
  readonly type: ValidationType;
  readonly action: ValidationAction;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped; undefined when it passed. */
  readonly reason: string | undefined;
  /**
   * True when a failed check could not decide rather than finding the signature bad (no usable
   * trust store, a feature Sigil lacks): notation-go's VerificationInconclusiveError.
   */
  readonly inconclusive?: boolean;
}

/** Failures that are not one of the five checks: always fatal for the signature (notation-go Verify). */
export type SignatureFailureKind = ValidationType | 'plugin' | 'targetArtifact' | 'userMetadata';

/** Everything known about one signature after verifying it (notation-go VerificationOutcome). */
export interface VerificationOutcome {
  /** Passed, or failed with `failure` saying which check and why. */
  readonly status: 'passed' | 'failed';
  readonly failure:
    | {
        readonly kind: SignatureFailureKind;
        readonly message: string;
        /** True when the verifier could not decide (see ValidationResult.inconclusive), not that the signature is bad. */
        readonly inconclusive?: boolean;
      }
    | undefined;
  readonly level: { readonly name: string; readonly actions: Readonly<Record<ValidationType, ValidationAction>> };
  /** One result per check, in the spec's order; checks after an enforced failure are skipped. */
  readonly results: readonly ValidationResult[];
  /** Logged failures, as Notation prints them (`<type> was set to "log" and failed with error: …`). */
  readonly warnings: readonly string[];
  readonly envelope: DecodedEnvelope | undefined;
  readonly targetArtifact: Descriptor | undefined;
  readonly certificateChain: readonly Certificate[];
}

/** What the verifier needs to check one signature. */
export interface VerifySignatureRequest {
  readonly envelope: { readonly mediaType: string; readonly bytes: Uint8Array };
  readonly statement: TrustPolicyStatement;
  /** The artifact the user asked about; the signed payload must describe exactly it. */
  readonly artifact: Descriptor;
  /** `--user-metadata`: every pair must be among the signed annotations. */
  readonly userMetadata?: Readonly<Record<string, string>>;
}

/** Options of a Verifier. */
export interface VerifierOptions {
  readonly trustStore: TrustStore;
  /** The verification instant; defaults to the wall clock. */
  readonly now?: () => Date;
}

// notation-go verifier.go processSignature order: integrity, authenticity, expiry, authentic timestamp, revocation.
const ORDER: readonly ValidationType[] = ['integrity', 'authenticity', 'expiry', 'authenticTimestamp', 'revocation'];

/** Notation's attribute that names a plugin the verifier must run (signature-specification.md, Extended attributes). */
const VERIFICATION_PLUGIN = 'io.cncf.notary.verificationPlugin';
const VERIFICATION_PLUGIN_MIN_VERSION = 'io.cncf.notary.verificationPluginMinVersion';

/** A check's verdict that the signature is bad, or (inconclusive) that it could not decide. */
class CheckFailure extends Error {
  readonly inconclusive: boolean;
  constructor(message: string, inconclusive: boolean) {
    super(message);
    this.inconclusive = inconclusive;
  }
}

function fail(message: string): never {
  throw new CheckFailure(message, false);
}

/** notation-go ErrorVerificationInconclusive: the check could not decide, e.g. no usable trust store. */
function inconclusive(message: string): never {
  throw new CheckFailure(message, true);
}

function rfc1123(time: Date): string {
  // Go's time.RFC1123Z as Notation prints certificate and expiry times.
  return time.toUTCString().replace('GMT', '+0000');
}

/** Checks Notary signatures; stateless apart from its trust store, so one instance serves many requests. */
export class Verifier {
  readonly #trustStore: TrustStore;
  readonly #now: () => Date;

  constructor(options: VerifierOptions) {
    this.#trustStore = options.trustStore;
    this.#now = options.now ?? (() => new Date());
  }

  /** Verifies one envelope; never throws for a bad signature — the outcome says what failed. */
  async verifySignature(request: VerifySignatureRequest): Promise<VerificationOutcome> {
    const level = request.statement.level;
    const now = this.#now();
    const results: ValidationResult[] = [];
    const warnings: string[] = [];
    let envelope: DecodedEnvelope | undefined;
    let chain: Certificate[] = [];
    let targetArtifact: Descriptor | undefined;
    let failure: VerificationOutcome['failure'];

    const finish = (): VerificationOutcome => {
      const notEvaluated = failure === undefined ? 'not evaluated' : `not evaluated: ${failure.kind === 'plugin' ? 'the signature needs a verification plugin' : `${failure.kind} failed and is enforced`}`;
      for (const type of ORDER) {
        if (!results.some((r) => r.type === type)) results.push({ type, action: level.actions[type], status: 'skipped', reason: notEvaluated });
      }
      results.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
      return Object.freeze({
        status: failure === undefined ? 'passed' : 'failed',
        failure,
        level,
        results: Object.freeze(results.map((r) => Object.freeze(r))),
        warnings: Object.freeze(warnings),
        envelope,
        targetArtifact,
        certificateChain: Object.freeze(chain),
      });
    };

    // notation-go verifier.go Verify: level skip reads nothing and verifies nothing.
    if (level.name === 'skip') {
      for (const type of ORDER) results.push({ type, action: 'skip', status: 'skipped', reason: `trust policy statement "${request.statement.name}" is configured to skip signature verification` });
      return finish();
    }

    // Runs one check under its action: skip ⇒ skipped; a failure under log ⇒ warning; under enforce ⇒ stop.
    // Synchronous checks stay synchronous: an await per check is a measurable share of a fast verification.
    const skippedByPolicy = (type: ValidationType): boolean => {
      if (level.actions[type] !== 'skip') return false;
      results.push({ type, action: 'skip', status: 'skipped', reason: `${type} is set to "skip" by the trust policy` });
      return true;
    };
    const passed = (type: ValidationType, skipped: string | undefined): true => {
      results.push({ type, action: level.actions[type], status: skipped === undefined ? 'passed' : 'skipped', reason: skipped });
      return true;
    };
    const failed = (type: ValidationType, error: unknown): boolean => {
      if (!(error instanceof CheckFailure)) throw error;
      const action = level.actions[type];
      results.push({ type, action, status: 'failed', reason: error.message, ...(error.inconclusive ? { inconclusive: true } : {}) });
      if (action === 'log') {
        warnings.push(`${type} was set to "log" and failed with error: ${error.message}`);
        return true;
      }
      failure = { kind: type, message: `${type} validation failed: ${error.message}`, ...(error.inconclusive ? { inconclusive: true } : {}) };
      return false;
    };
    const run = (type: ValidationType, check: () => string | undefined): boolean => {
      if (skippedByPolicy(type)) return true;
      try {
        return passed(type, check());
      } catch (error) {
        return failed(type, error);
      }
    };
    const runAsync = async (type: ValidationType, check: () => Promise<string | undefined>): Promise<boolean> => {
      if (skippedByPolicy(type)) return true;
      try {
        return passed(type, await check());
      } catch (error) {
        return failed(type, error);
      }
    };

    // Integrity is always enforced (trust-store-trust-policy.md: integrity cannot be overridden).
    const integrityOk = run('integrity', () => {
      try {
        envelope = decodeEnvelope(request.envelope.mediaType, request.envelope.bytes);
      } catch (error) {
        fail(`unable to parse the signature envelope: ${(error as Error).message}`);
      }
      const { signerInfo, payload } = envelope.content;
      try {
        chain = signerInfo.certificateChain.map((der) => decodeCertificate(der));
      } catch (error) {
        fail(`invalid certificate in x5c: ${(error as Error).message}`);
      }
      const leaf = chain[0];
      if (leaf === undefined) fail('the signature envelope carries no certificate chain');
      try {
        // Certificate rules broken by the chain itself are integrity failures (notation-core-go base envelope).
        validateCodeSigningChain(chain, {});
      } catch (error) {
        fail((error as Error).message);
      }
      let expected;
      try {
        expected = algorithmForKeySpec(keySpecOf(leaf.publicKey));
      } catch (error) {
        fail(`signing certificate "${leaf.subject}": ${(error as Error).message}`);
      }
      if (expected.name !== signerInfo.signatureAlgorithm) {
        fail(`mismatch between signature algorithm derived from signing certificate (${expected.name}) and signing algorithm specified (${signerInfo.signatureAlgorithm})`);
      }
      if (!verifySignatureBytes(signerInfo.signatureAlgorithm, leaf.publicKey, envelope.signedBytes, signerInfo.signature, envelope.mediaType)) {
        fail('signature is invalid: the signature bytes do not verify with the signing certificate');
      }
      if (payload.contentType !== PAYLOAD_CONTENT_TYPE) fail(`payload content type "${payload.contentType}" is not supported`);
      try {
        targetArtifact = decodeEnvelopePayload(payload).targetArtifact;
      } catch (error) {
        fail((error as Error).message);
      }
      // signature-specification.md: a verifier MUST fail on a critical attribute it does not
      // understand. notation-go leaves them to the verification plugin, so with a plugin named
      // they are the plugin step's business (which fails below); without one they fail here.
      const { extendedAttributes } = signerInfo.signedAttributes;
      if (!extendedAttributes.some((a) => a.key === VERIFICATION_PLUGIN)) {
        const unknown = extendedAttributes.find((a) => a.critical && a.key !== VERIFICATION_PLUGIN_MIN_VERSION);
        if (unknown !== undefined) fail(`unknown critical attribute ${JSON.stringify(unknown.key)}: Sigil does not understand it, so it cannot verify the signature`);
      }
      return undefined;
    });
    if (!integrityOk || envelope === undefined) return finish();
    const { signedAttributes } = envelope.content.signerInfo;

    // signature-specification.md: a verifier that cannot run the named plugin must fail the
    // signature; notation-go reports a missing plugin as inconclusive.
    const plugin = signedAttributes.extendedAttributes.find((a) => a.key === VERIFICATION_PLUGIN);
    if (plugin !== undefined) {
      failure = { kind: 'plugin', message: `the signature requires the verification plugin ${JSON.stringify(String(plugin.value))}; verification plugins are not supported yet`, inconclusive: true };
      return finish();
    }

    const leaf = chain[0] as Certificate;
    const scheme = signedAttributes.signingScheme;
    if (!(await runAsync('authenticity', async () => {
      await this.#checkAuthenticity(request.statement, scheme, chain);
      return this.#checkTrustedIdentity(request.statement, leaf);
    }))) return finish();

    if (!run('expiry', () => {
      const expiry = signedAttributes.expiry;
      if (expiry !== undefined && now.getTime() >= expiry.getTime()) fail(`digital signature has expired on "${rfc1123(expiry)}"`);
      return undefined;
    })) return finish();

    if (!run('authenticTimestamp', () => this.#checkAuthenticTimestamp(request.statement, scheme, chain, signedAttributes.signingTime, now))) return finish();

    // TODO(#4 follow-up issue): OCSP/CRL revocation checking. Until then the check is reported as skipped, never passed.
    run('revocation', () => 'revocation checking is not supported yet');

    // notation-go Verify: the signed descriptor must be the artifact's (media type, digest, size) — fatal at every level.
    if (failure === undefined && targetArtifact !== undefined) {
      const a = request.artifact;
      if (!isSameArtifact(targetArtifact, a)) {
        failure = { kind: 'targetArtifact', message: `content descriptor mismatch: the signature is for ${targetArtifact.digest} (${targetArtifact.mediaType}, ${targetArtifact.size} bytes), not ${a.digest} (${a.mediaType}, ${a.size} bytes)` };
      }
    }
    if (failure === undefined && request.userMetadata !== undefined) {
      const signed = targetArtifact?.annotations ?? {};
      const missing = Object.entries(request.userMetadata).filter(([k, v]) => !Object.hasOwn(signed, k) || signed[k] !== v);
      if (missing.length > 0) failure = { kind: 'userMetadata', message: `unable to find specified metadata in the signature: ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}` };
    }
    return finish();
  }

  /**
   * Authenticity (notation-go verifier.go verifyAuthenticity): some certificate of the chain is
   * byte-equal to a certificate of the statement's stores of the scheme's type (`ca` for
   * notary.x509, `signingAuthority` for notary.x509.signingAuthority); no path building.
   */
  async #checkAuthenticity(statement: TrustPolicyStatement, scheme: SigningScheme, chain: readonly Certificate[]): Promise<void> {
    const storeType = scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    // notation-go loadX509TrustStores: each `type:name` is read once.
    const stores = statement.trustStores.filter((s, i, all) => s.type === storeType && all.findIndex((o) => o.type === s.type && o.name === s.name) === i);
    if (stores.length === 0) inconclusive(`no trust store of type "${storeType}" is configured in trust policy statement "${statement.name}", and signing scheme ${scheme} needs one`);
    const trusted: Certificate[] = [];
    for (const store of stores) {
      try {
        trusted.push(...(await this.#trustStore.getCertificates(store.type, store.name)));
      } catch (error) {
        inconclusive(`error while loading the trust store, ${(error as Error).message}`);
      }
    }
    if (trusted.length === 0) inconclusive('no trusted certificates are found to verify authenticity');
    // Byte equality, compared through the precomputed SHA-256 fingerprints (equal exactly when the DER is).
    const trustedPrints = new Set(trusted.map((t) => t.sha256Fingerprint));
    const inStore = chain.some((c) => trustedPrints.has(c.sha256Fingerprint));
    if (!inStore) fail("the signature's certificate chain does not contain any trusted certificate");
  }

  #checkTrustedIdentity(statement: TrustPolicyStatement, leaf: Certificate): undefined {
    const identities = statement.trustedIdentities;
    if (identities.some((i) => i.kind === 'any')) return undefined;
    const subjects = identities.flatMap((i) => (i.kind === 'x509.subject' ? [i] : []));
    if (subjects.length === 0) fail(`no x509 trusted identities are configured in the trust policy "${statement.name}"; identities of other kinds need a verification plugin`);
    let actual;
    try {
      actual = parseDistinguishedName(leaf.subject);
    } catch (error) {
      fail(`error while parsing the certificate subject from the digital signature. error : ${(error as Error).message}`);
    }
    if (subjects.some((i) => isSubsetOf(i.dn, actual))) return undefined;
    fail(`signing certificate from the digital signature does not match the X.509 trusted identities ${JSON.stringify(subjects.map((s) => s.raw))} defined in the trust policy "${statement.name}"`);
  }

  #checkAuthenticTimestamp(statement: TrustPolicyStatement, scheme: SigningScheme, chain: readonly Certificate[], signingTime: Date, now: Date): string | undefined {
    if (scheme === 'notary.x509.signingAuthority') {
      // signing-scheme.md: the authentic signing time must fall within every certificate's validity.
      for (const cert of chain) {
        if (!isValidAt(cert, signingTime)) fail(`certificate "${cert.subject}" was not valid when the digital signature was produced at "${rfc1123(signingTime)}"`);
      }
      return undefined;
    }
    const hasTsaStore = statement.trustStores.some((s) => s.type === 'tsa');
    // notation-go verifier.go verifyX509Timestamp: the timestamp is verified when a tsa store is
    // configured and either verifyTimestamp is "always" or some certificate has expired (a
    // certificate not yet valid does not count); otherwise every certificate must be valid now.
    const anyExpired = chain.some((c) => now.getTime() > c.notAfter.getTime());
    if (hasTsaStore && (statement.signatureVerification.verifyTimestamp !== 'afterCertExpiry' || anyExpired)) {
      inconclusive('RFC 3161 timestamp countersignatures cannot be verified yet, and the trust policy asks for timestamp verification');
    }
    for (const cert of chain) {
      if (now.getTime() < cert.notBefore.getTime()) fail(`verification time is before certificate "${cert.subject}" validity period, it will be valid from "${rfc1123(cert.notBefore)}"`);
      if (now.getTime() > cert.notAfter.getTime()) fail(`verification time is after certificate "${cert.subject}" validity period, it was expired at "${rfc1123(cert.notAfter)}"`);
    }
    return undefined;
  }
}
