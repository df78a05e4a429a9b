// Which registry credentials one verification may use, as Kyverno decides it (reference §1a
// `imageRegistryCredentials`, §5b): the verifyImages entry's Secrets, the Pod's imagePullSecrets,
// and the server's own credentials, merged in that order. Pure: reading the Secrets is the caller's (server/admission).

import type { EvaluationRequest } from './engine.js';
import { podSpecPointer } from './images.js';
import type { CertificatesAttestor, ImageRegistryCredentials, ImageVerification, NotaryAttestor, Rule } from './model.js';
import { parsePointer } from './patch.js';

/** Where the credentials of one (image, rule, attestor entry, request) come from, in lookup order. */
export interface CredentialSources {
  /** `imageRegistryCredentials.secrets` of the entry, as written: a plain name is in the controller's namespace, `ns/name` names another. */
  readonly ruleSecrets: readonly string[];
  /** The names in the object's `imagePullSecrets` (the Pod's, or its pod template's), all in `namespace`. */
  readonly pullSecrets: readonly string[];
  /** The request's namespace, where `pullSecrets` are; `''` for a cluster-scoped object. */
  readonly namespace: string;
  /** Cloud providers the entry names (`amazon`, `azure`, `google`, `github`), which Sigil cannot use yet. */
  readonly unsupportedProviders: readonly string[];
}

function holds(entries: readonly NotaryAttestor[], attestor: CertificatesAttestor): boolean {
  return entries.some((e) => e === attestor || (e.kind === 'nested' && holds(e.attestorSet.entries, attestor)));
}

/** The verifyImages entry of `rule` that holds `attestor` (the engine hands the verifier the attestor, not its entry). */
export function verificationOfAttestor(rule: Rule, attestor: CertificatesAttestor): ImageVerification | undefined {
  return rule.verifyImages.find((v) => v.attestors.some((set) => holds(set.entries as readonly NotaryAttestor[], attestor)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The `imagePullSecrets` names of a Pod, or of the pod template of a controller or CronJob
 * (Kyverno 1.18 collects them beside the images, reference §1f). Entries without a name are left out.
 */
export function imagePullSecretNames(object: unknown, kind: string): string[] {
  const pointer = podSpecPointer(kind);
  if (pointer === undefined) return [];
  let spec: unknown = object;
  for (const token of parsePointer(pointer)) spec = isObject(spec) ? spec[token] : undefined;
  const secrets = isObject(spec) ? spec.imagePullSecrets : undefined;
  if (!Array.isArray(secrets)) return [];
  const names = secrets.map((s: unknown) => (isObject(s) && typeof s.name === 'string' ? s.name : '')).filter((n) => n !== '');
  return [...new Set(names)];
}

/**
 * The credential sources for verifying with `attestor` of `rule` in `request`: the entry's
 * imageRegistryCredentials Secrets, then the Pod's imagePullSecrets; the server's own credentials
 * always come last (merged, where Kyverno would let the entry's Secrets replace them).
 */
export function credentialSources(rule: Rule, attestor: CertificatesAttestor, request: EvaluationRequest): CredentialSources {
  const credentials: ImageRegistryCredentials | undefined = verificationOfAttestor(rule, attestor)?.imageRegistryCredentials;
  const ruleSecrets = credentials?.secrets ?? [];
  const providers = credentials?.providers ?? [];
  return Object.freeze({
    ruleSecrets: Object.freeze([...ruleSecrets]),
    pullSecrets: Object.freeze(request.namespace === '' ? [] : imagePullSecretNames(request.object, request.kind.kind)),
    namespace: request.namespace,
    unsupportedProviders: Object.freeze(providers.filter((p) => p !== 'default')),
  });
}
