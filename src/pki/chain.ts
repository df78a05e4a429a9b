// Certificate chain rules of the Notary Project signature specification, Certificate
// Requirements, as notation-core-go v1.3.0 implements them (x509/codesigning_cert_validations.go,
// x509/timestamp_cert_validations.go, x509/helper.go). Where the code and the spec differ the code
// wins, for interoperability; each such place says so.

import {
  EKU_CLIENT_AUTH,
  EKU_EMAIL_PROTECTION,
  EKU_OCSP_SIGNING,
  EKU_SERVER_AUTH,
  EKU_TIME_STAMPING,
  isValidAt,
  issuanceProblem,
  selfSignatureProblem,
} from './certificate.js';
import type { Certificate, IssuanceProblem, KeyUsageName } from './certificate.js';
import { ChainError, KeyError } from './errors.js';
import { keySpecOf } from './keyspec.js';

/** Options of the chain validators. */
export interface ChainValidationOptions {
  /** When given, every certificate must be valid at this instant (e.g. the signing time). */
  readonly at?: Date;
}

interface Profile {
  readonly name: 'code signing' | 'timestamping';
  /** Code-signing chains need a critical key usage everywhere; TSA chains only need it present. */
  readonly keyUsageCritical: boolean;
}

const CODE_SIGNING: Profile = { name: 'code signing', keyUsageCritical: true };
const TIMESTAMPING: Profile = { name: 'timestamping', keyUsageCritical: false };

// helper.go validateLeafKeyUsage: digitalSignature (and nonRepudiation) only.
const FORBIDDEN_LEAF_USAGES: readonly KeyUsageName[] = ['keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

// codesigning_cert_validations.go excludedEkus. The spec also forbids anyExtendedKeyUsage;
// notation-core-go v1.3.0 does not, so neither does Sigil.
const FORBIDDEN_CODE_SIGNING_EKUS: ReadonlyMap<string, string> = new Map([
  [EKU_SERVER_AUTH, 'serverAuth'],
  [EKU_CLIENT_AUTH, 'clientAuth'],
  [EKU_EMAIL_PROTECTION, 'emailProtection'],
  [EKU_TIME_STAMPING, 'timeStamping'],
  [EKU_OCSP_SIGNING, 'OCSPSigning'],
]);

function fail(message: string, index: number, cert: Certificate, cause?: unknown): never {
  throw new ChainError('CHAIN_INVALID', message, { index, subject: cert.subject, cause });
}

function q(text: string): string {
  return JSON.stringify(text);
}

function role(index: number, length: number): 'the leaf' | 'an intermediate' | 'the root' {
  return index === 0 ? 'the leaf' : index === length - 1 ? 'the root' : 'an intermediate';
}

function checkTime(cert: Certificate, index: number, at: Date | undefined): void {
  if (at === undefined || isValidAt(cert, at)) return;
  const why = at < cert.notBefore ? `it is not valid before ${cert.notBefore.toISOString()}` : `it expired at ${cert.notAfter.toISOString()}`;
  fail(`certificate with subject ${q(cert.subject)} is not valid at ${at.toISOString()}: ${why}`, index, cert);
}

/** Throws for an issuance problem of chain[index] against chain[parentIndex] (the same for a root). */
function failIssuance(problem: IssuanceProblem, chain: readonly Certificate[], index: number, parentIndex: number): never {
  const child = chain[index] as Certificate;
  const parent = chain[parentIndex] as Certificate;
  const self = index === parentIndex;
  const subject = q(child.subject);
  const prefix = self
    ? chain.length === 1
      ? `certificate with subject ${subject} is the only certificate in the chain but is not self-signed`
      : `root certificate with subject ${subject} is not self-signed`
    : `certificate with subject ${subject} is not issued by ${q(parent.subject)}`;
  const next = self
    ? chain.length === 1
      ? '; add its issuing CA certificates up to the root'
      : '; the chain must end with a self-signed root certificate'
    : '';
  switch (problem.kind) {
    case 'issuer-name':
      return fail(
        self
          ? `${prefix}: its issuer is ${q(child.issuer)}${next}`
          : `${prefix}: its issuer is ${q(child.issuer)}; order the chain from the leaf through each issuer to the root`,
        index,
        child,
      );
    case 'parent-not-ca':
      // Go's CheckSignatureFrom refuses a parent without cA before it checks the signature.
      return fail(
        `certificate with subject ${q(parent.subject)} is not a CA certificate (basic constraints ${problem.basicConstraints}) but appears as ${role(parentIndex, chain.length)}` +
          (self ? '' : `, issuing ${subject}`),
        parentIndex,
        parent,
      );
    case 'parent-no-key-cert-sign':
      return fail(
        `CA certificate with subject ${q(parent.subject)} does not have the keyCertSign key usage` + (self ? ', so it cannot sign itself as a root' : `, so it cannot issue ${subject}`),
        parentIndex,
        parent,
      );
    case 'insecure-algorithm':
      return fail(`${prefix}: it is signed with ${problem.algorithm}, which is insecure (MD5 and SHA-1 signatures are refused)`, index, child);
    case 'unsupported-algorithm':
      return fail(`${prefix}: its signature algorithm ${problem.algorithm} is not supported`, index, child);
    case 'signature':
      return fail(`${prefix}: its signature does not verify with the public key of ${self ? 'itself' : q(parent.subject)}${next}`, index, child);
  }
}

function checkKeyUsagePresent(cert: Certificate, index: number, profile: Profile, what: string): readonly KeyUsageName[] {
  if (cert.keyUsage === undefined) fail(`${what} with subject ${q(cert.subject)} has no key usage extension, which ${profile.name} requires`, index, cert);
  if (profile.keyUsageCritical && !cert.keyUsage.critical) {
    fail(`${what} with subject ${q(cert.subject)} has a key usage extension that is not marked critical, which ${profile.name} requires`, index, cert);
  }
  return cert.keyUsage.usages;
}

function checkCa(chain: readonly Certificate[], index: number, profile: Profile): void {
  const cert = chain[index] as Certificate;
  const bc = cert.basicConstraints;
  // helper.go validateCABasicConstraints: present with cA=true; criticality is not checked (the
  // spec wants it critical).
  if (bc === undefined || !bc.cA) {
    fail(`certificate with subject ${q(cert.subject)} is not a CA certificate (basic constraints ${bc === undefined ? 'missing' : 'cA=false'}) but appears as ${role(index, chain.length)}`, index, cert);
  }
  // The number of CA certificates between this one and the leaf.
  const below = index - 1;
  if (bc.pathLenConstraint !== undefined && bc.pathLenConstraint < below) {
    fail(`CA certificate with subject ${q(cert.subject)} has pathLenConstraint ${bc.pathLenConstraint} but ${below} intermediate CA certificates follow it towards the leaf`, index, cert);
  }
  const usages = checkKeyUsagePresent(cert, index, profile, 'CA certificate');
  if (!usages.includes('keyCertSign')) fail(`CA certificate with subject ${q(cert.subject)} does not have the keyCertSign key usage`, index, cert);
}

function checkLeaf(cert: Certificate, profile: Profile): void {
  const subject = q(cert.subject);
  if (cert.basicConstraints?.cA === true) {
    fail(`certificate with subject ${subject} is a CA certificate (basic constraints cA=true) but appears as the leaf; ${profile.name} needs a non-CA leaf certificate`, 0, cert);
  }
  const usages = checkKeyUsagePresent(cert, 0, profile, 'leaf certificate');
  if (!usages.includes('digitalSignature')) fail(`leaf certificate with subject ${subject} does not have the digitalSignature key usage`, 0, cert);
  const forbidden = usages.filter((u) => FORBIDDEN_LEAF_USAGES.includes(u));
  if (forbidden.length > 0) {
    fail(`leaf certificate with subject ${subject} has key usage ${forbidden.join(', ')}, which a signing certificate must not have; only digitalSignature and nonRepudiation are allowed`, 0, cert);
  }
  const eku = cert.extKeyUsage;
  if (profile === TIMESTAMPING) {
    // RFC 3161 §2.3: exactly one extended key usage, id-kp-timeStamping, in a critical extension.
    if (eku === undefined || eku.oids.length !== 1 || eku.oids[0] !== EKU_TIME_STAMPING) {
      fail(`timestamping certificate with subject ${subject} must have timeStamping (${EKU_TIME_STAMPING}) as its only extended key usage; it has ${eku === undefined || eku.oids.length === 0 ? 'none' : eku.oids.join(', ')}`, 0, cert);
    }
    if (!eku.critical) fail(`timestamping certificate with subject ${subject} has an extended key usage extension that is not marked critical, which RFC 3161 §2.3 requires`, 0, cert);
  } else {
    for (const oid of eku?.oids ?? []) {
      const name = FORBIDDEN_CODE_SIGNING_EKUS.get(oid);
      if (name !== undefined) fail(`leaf certificate with subject ${subject} has extended key usage ${name} (${oid}), which code signing does not allow`, 0, cert);
    }
  }
  try {
    keySpecOf(cert.publicKey);
  } catch (e) {
    if (!(e instanceof KeyError)) throw e;
    fail(`leaf certificate with subject ${subject} has an unsupported key: ${e.message}`, 0, cert, e);
  }
}

/**
 * Outcomes of checks made without a time (`at` undefined), by leaf object: certificates are
 * immutable and decodeCertificate hands out one object per DER, so a repeat signer's chain is
 * the same objects and its structural checks need not run again.
 */
const structuralOutcomes = new WeakMap<Certificate, { readonly chain: readonly Certificate[]; readonly profile: Profile; readonly error: ChainError | undefined }>();

function validateChain(chain: readonly Certificate[], profile: Profile, at: Date | undefined): void {
  const leaf = chain[0];
  if (at !== undefined || leaf === undefined) {
    checkChain(chain, profile, at);
    return;
  }
  const known = structuralOutcomes.get(leaf);
  if (known !== undefined && known.profile === profile && known.chain.length === chain.length && known.chain.every((c, i) => c === chain[i])) {
    if (known.error !== undefined) throw known.error;
    return;
  }
  let error: ChainError | undefined;
  try {
    checkChain(chain, profile, undefined);
  } catch (e) {
    if (!(e instanceof ChainError)) throw e;
    error = e;
  }
  structuralOutcomes.set(leaf, { chain: [...chain], profile, error });
  if (error !== undefined) throw error;
}

function checkChain(chain: readonly Certificate[], profile: Profile, at: Date | undefined): void {
  const first = chain[0];
  if (first === undefined) throw new ChainError('CHAIN_INVALID', `${profile.name} certificate chain is empty; it must hold at least the signing certificate`);
  if (chain.length === 1) {
    checkTime(first, 0, at);
    // A lone certificate is a self-signed leaf: Go's CheckSignature (no CA constraints) plus
    // RawSubject == RawIssuer. Go's CheckSignature still accepts SHA-1 here; Sigil refuses it
    // everywhere, which only tightens the check.
    const problem = selfSignatureProblem(first);
    if (problem !== undefined) failIssuance(problem, chain, 0, 0);
    checkLeaf(first, profile);
    return;
  }
  chain.forEach((cert, i) => {
    checkTime(cert, i, at);
    if (i === chain.length - 1) {
      // The root must be self-signed the way Go's CheckSignatureFrom(itself) sees it, so as a CA.
      const problem = issuanceProblem(cert, cert);
      if (problem !== undefined) failIssuance(problem, chain, i, i);
    } else {
      if (issuanceProblem(cert, cert) === undefined) {
        fail(
          i === 0
            ? `leaf certificate with subject ${q(cert.subject)} is self-signed, but a chain of ${chain.length} certificates must not contain a self-signed leaf; a self-signed signing certificate must be alone, and a chain is ordered leaf first`
            : `intermediate certificate with subject ${q(cert.subject)} is self-signed; only the last certificate in the chain, the root, may be self-signed`,
          i,
          cert,
        );
      }
      const problem = issuanceProblem(cert, chain[i + 1] as Certificate);
      if (problem !== undefined) failIssuance(problem, chain, i, i + 1);
    }
    if (i === 0) checkLeaf(cert, profile);
    else checkCa(chain, i, profile);
  });
}

/**
 * Checks a signing certificate chain (leaf first, root last) against the Notary Project
 * code-signing certificate requirements (notation-core-go ValidateCodeSigningCertChain); throws
 * ChainError CHAIN_INVALID naming the offending certificate by subject.
 */
export function validateCodeSigningChain(chain: readonly Certificate[], options: ChainValidationOptions = {}): void {
  validateChain(chain, CODE_SIGNING, options.at);
}

/**
 * Checks a TSA certificate chain (leaf first, root last) against the timestamping certificate
 * requirements (notation-core-go ValidateTimestampingCertChain); throws ChainError CHAIN_INVALID.
 */
export function validateTimestampingChain(chain: readonly Certificate[], options: ChainValidationOptions = {}): void {
  validateChain(chain, TIMESTAMPING, options.at);
}
