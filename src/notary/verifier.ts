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
import { PAYLOAD_CONTENT_TYPE, type DecodedEnvelope } from './envelope.js';
import type { ValidationAction, ValidationType } from './levels.js';
import { decodePayload } from './payload.js';
import type { TrustPolicyStatement } from './trustpolicy.js';
import type { TrustStore } from './truststore.js';

/** The outcome of one check: passed, failed (with why), or skipped (with why). */
export interface ValidationResult {
  readonly type: ValidationType;
  readonly action: ValidationAction;
  readonly status: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped; undefined when it passed. */
  readonly reason: string | undefined;
}

/** Failures that are not one of the five checks: always fatal for the signature (notation-go Verify). */
export type SignatureFailureKind = ValidationType | 'plugin' | 'targetArtifact' | 'userMetadata';

/** Everything known about one signature after verifying it (notation-go VerificationOutcome). */
export interface VerificationOutcome {
  /** Passed, or failed with `failure` saying which check and why. */
  readonly status: 'passed' | 'failed';
  readonly failure: { readonly kind: SignatureFailureKind; readonly message: string } | undefined;
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

class CheckFailure extends Error {}

function fail(message: string): never {
  throw new CheckFailure(message);
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
      for (const type of ORDER) {
        if (!results.some((r) => r.type === type)) results.push({ type, action: level.actions[type], status: 'skipped', reason: 'not evaluated: an earlier enforced check failed' });
      }
      results.sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
      return Object.freeze({ status: failure === undefined ? 'passed' : 'failed', failure, level, results: Object.freeze(results), warnings: Object.freeze(warnings), envelope, targetArtifact, certificateChain: Object.freeze(chain) });
    };

    // Runs one check under its action: skip ⇒ skipped; a failure under log ⇒ warning; under enforce ⇒ stop.
    const run = async (type: ValidationType, check: () => Promise<string | undefined> | string | undefined): Promise<boolean> => {
      const action = level.actions[type];
      if (action === 'skip') {
        results.push({ type, action, status: 'skipped', reason: `${type} is set to "skip" by the trust policy` });
        return true;
      }
      try {
        const skipped = await check();
        results.push({ type, action, status: skipped === undefined ? 'passed' : 'skipped', reason: skipped });
        return true;
      } catch (error) {
        if (!(error instanceof CheckFailure)) throw error;
        results.push({ type, action, status: 'failed', reason: error.message });
        if (action === 'log') {
          warnings.push(`${type} was set to "log" and failed with error: ${error.message}`);
          return true;
        }
        failure = { kind: type, message: `${type} validation failed: ${error.message}` };
        return false;
      }
    };

    // Integrity is always enforced (trust-store-trust-policy.md: integrity cannot be overridden).
    const integrityOk = await run('integrity', () => {
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
        targetArtifact = decodePayload(payload.content).targetArtifact;
      } catch (error) {
        fail((error as Error).message);
      }
      return undefined;
    });
    if (!integrityOk || envelope === undefined) return finish();
    const { signedAttributes } = envelope.content.signerInfo;

    // signature-specification.md: a verifier that cannot run the named plugin must fail the signature.
    const plugin = signedAttributes.extendedAttributes.find((a) => a.key === VERIFICATION_PLUGIN);
    if (plugin !== undefined) {
      failure = { kind: 'plugin', message: `the signature requires the verification plugin "${String(plugin.value)}"; verification plugins are not supported yet` };
      return finish();
    }
    // The spec says unknown critical attributes MUST fail verification; notation-go only enforces it via plugins.
    const unknownCritical = signedAttributes.extendedAttributes.find((a) => a.critical && a.key !== VERIFICATION_PLUGIN_MIN_VERSION);
    if (unknownCritical !== undefined) {
      results.length = 0;
      results.push({ type: 'integrity', action: level.actions.integrity, status: 'failed', reason: `unknown critical attribute "${String(unknownCritical.key)}"` });
      failure = { kind: 'integrity', message: `integrity validation failed: unknown critical attribute "${String(unknownCritical.key)}"` };
      return finish();
    }

    const leaf = chain[0] as Certificate;
    const scheme = signedAttributes.signingScheme;
    if (!(await run('authenticity', async () => {
      const storeType = scheme === 'notary.x509' ? 'ca' : 'signingAuthority';
      const stores = request.statement.trustStores.filter((s) => s.type === storeType);
      if (stores.length === 0) fail(`no trust store of type "${storeType}" is configured in trust policy statement "${request.statement.name}" for signing scheme ${scheme}`);
      const trusted: Certificate[] = [];
      for (const store of stores) {
        try {
          trusted.push(...(await this.#trustStore.getCertificates(store.type, store.name)));
        } catch (error) {
          fail((error as Error).message);
        }
      }
      // Authenticity: some certificate of the signature's chain is one of the trusted certificates
      // (notation-go verifier.go verifyAuthenticity: byte equality, no path building).
      const inStore = chain.some((c) => trusted.some((t) => Buffer.from(t.der).equals(Buffer.from(c.der))));
      if (!inStore) fail("the signature's certificate chain does not contain any trusted certificate");
      return this.#checkTrustedIdentity(request.statement, leaf);
    }))) return finish();

    if (!(await run('expiry', () => {
      const expiry = signedAttributes.expiry;
      if (expiry !== undefined && now.getTime() >= expiry.getTime()) fail(`digital signature has expired on "${rfc1123(expiry)}"`);
      return undefined;
    }))) return finish();

    if (!(await run('authenticTimestamp', () => this.#checkAuthenticTimestamp(request.statement, scheme, chain, signedAttributes.signingTime, now)))) return finish();

    // TODO(#4 follow-up issue): OCSP/CRL revocation checking. Until then the check is reported as skipped, never passed.
    await run('revocation', () => 'revocation checking is not supported yet');

    // notation-go Verify: the signed descriptor must be the artifact's (media type, digest, size) — fatal at every level.
    if (failure === undefined && targetArtifact !== undefined) {
      const a = request.artifact;
      if (targetArtifact.mediaType !== a.mediaType || targetArtifact.digest !== a.digest || targetArtifact.size !== a.size) {
        failure = { kind: 'targetArtifact', message: `content descriptor mismatch: the signature is for ${targetArtifact.digest} (${targetArtifact.mediaType}, ${targetArtifact.size} bytes), not ${a.digest} (${a.mediaType}, ${a.size} bytes)` };
      }
    }
    if (failure === undefined && request.userMetadata !== undefined) {
      const signed = targetArtifact?.annotations ?? {};
      const missing = Object.entries(request.userMetadata).filter(([k, v]) => signed[k] !== v);
      if (missing.length > 0) failure = { kind: 'userMetadata', message: `unable to find specified metadata in the signature: ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}` };
    }
    return finish();
  }

  #checkTrustedIdentity(statement: TrustPolicyStatement, leaf: Certificate): undefined {
    const identities = statement.trustedIdentities;
    if (identities.some((i) => i.kind === 'any')) return undefined;
    const subjects = identities.flatMap((i) => (i.kind === 'x509.subject' ? [i] : []));
    if (subjects.length === 0) fail(`trust policy statement "${statement.name}" has no x509.subject trusted identities, and identities of other kinds need a verification plugin`);
    let actual;
    try {
      actual = parseDistinguishedName(leaf.subject);
    } catch (error) {
      fail(`error while parsing the certificate subject from the digital signature. error : ${(error as Error).message}`);
    }
    if (subjects.some((i) => isSubsetOf(i.dn, actual))) return undefined;
    fail(`signing certificate from the digital signature does not match the X.509 trusted identities ${JSON.stringify(subjects.map((s) => s.raw))} defined in the trust policy "${statement.name}"`);
  }

  #checkAuthenticTimestamp(statement: TrustPolicyStatement, scheme: string, chain: readonly Certificate[], signingTime: Date, now: Date): string | undefined {
    if (scheme === 'notary.x509.signingAuthority') {
      // signing-scheme.md: the authentic signing time must fall within every certificate's validity.
      for (const cert of chain) {
        if (!isValidAt(cert, signingTime)) fail(`certificate "${cert.subject}" was not valid at the authentic signing time ${signingTime.toISOString()}: valid from ${rfc1123(cert.notBefore)} to ${rfc1123(cert.notAfter)}`);
      }
      return undefined;
    }
    const hasTsaStore = statement.trustStores.some((s) => s.type === 'tsa');
    const anyExpired = chain.some((c) => !isValidAt(c, now));
    // notation-go verifier.go: the timestamp is verified when a tsa store is configured and either
    // verifyTimestamp is "always" or some certificate has expired; otherwise all must be valid now.
    if (hasTsaStore && (statement.signatureVerification.verifyTimestamp !== 'afterCertExpiry' || anyExpired)) {
      fail('RFC 3161 timestamp countersignatures cannot be verified yet, and the trust policy asks for timestamp verification');
    }
    for (const cert of chain) {
      if (now.getTime() < cert.notBefore.getTime()) fail(`verification time is before certificate "${cert.subject}" validity period, it will be valid from "${rfc1123(cert.notBefore)}"`);
      if (now.getTime() > cert.notAfter.getTime()) fail(`verification time is after certificate "${cert.subject}" validity period, it was expired at "${rfc1123(cert.notAfter)}"`);
    }
    return undefined;
  }
}
