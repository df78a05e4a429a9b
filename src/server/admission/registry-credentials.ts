// Registry credentials from docker-registry Secrets for the admission verifier: Kyverno's
// precedence (reference §1a imageRegistryCredentials, §5b) — the verifyImages entry's Secrets, the
// Pod's imagePullSecrets, the server's own — resolved for the image's registry.

import { createHash } from 'node:crypto';
import { credentialSources, type ImageCredentials, type NotaryImageVerifierOptions } from '../../admission/index.js';
import type { CredentialStore, Credentials } from '../../registry/index.js';
import { normalizeRegistryKey, type RegistryCredentials, type SecretCredentials } from './cluster.js';

/** Where a connected server reads registry credentials: docker-registry Secrets. */
export interface SecretCredentialSource {
  readonly secrets: Pick<SecretCredentials, 'registryCredentials'>;
  /** Sigil's own namespace, for plain `imageRegistryCredentials.secrets` names. */
  readonly namespace: string;
}

/** `ImageCredentials.key` for the server's own credentials. */
const SERVER_CREDENTIALS_KEY = 'server';

/** The credentials of `registry` only, as a CredentialStore (a repository talks to one registry). */
function singleRegistryStore(registry: string, credentials: Credentials): CredentialStore {
  const wanted = normalizeRegistryKey(registry);
  return { get: async (asked: string) => (normalizeRegistryKey(asked) === wanted ? credentials : undefined) };
}

/** Skipped Secrets worth naming for `registry`: a whole Secret that could not be used, or its entry for this registry. */
function skippedNotes(found: RegistryCredentials, what: string, registry: string): string[] {
  const suffix = ` (${normalizeRegistryKey(registry)})`;
  return found.skipped.filter((s) => !s.secret.includes(' (') || s.secret.endsWith(suffix)).map((s) => `${what} ${s.secret} not used: ${s.reason}`);
}

/**
 * credentialsFor over docker-registry Secrets, merged in this order for the image's registry: the
 * entry's `imageRegistryCredentials.secrets` (a plain name in `source.namespace`), then the Pod's
 * `imagePullSecrets` (in the Pod's namespace), then the server's own. (Kyverno lets an entry's
 * Secrets replace its global credentials; Sigil merges, as issue #5 asks: the entry's still come
 * first.) A Secret that is missing or malformed is skipped, and named in the notes.
 */
export function secretCredentialsFor(source: SecretCredentialSource): NonNullable<NotaryImageVerifierOptions['credentialsFor']> {
  return async (image, rule, attestor, context): Promise<ImageCredentials> => {
    const sources = credentialSources(rule, attestor, context.request);
    const registry = image.target.registry;
    const options = { signal: context.signal };
    // A pull secret is a name in the Pod's namespace; `ns/name` is not one (SecretCredentials would read it elsewhere).
    const pullSecrets = sources.pullSecrets.filter((name) => !name.includes('/'));
    const [fromRule, fromPod] = await Promise.all([
      sources.ruleSecrets.length === 0 ? undefined : source.secrets.registryCredentials(source.namespace, sources.ruleSecrets, options),
      pullSecrets.length === 0 ? undefined : source.secrets.registryCredentials(sources.namespace, pullSecrets, options),
    ]);
    const notes = [
      ...(fromRule === undefined ? [] : skippedNotes(fromRule, 'imageRegistryCredentials secret', registry)),
      ...(fromPod === undefined ? [] : skippedNotes(fromPod, 'imagePullSecret', registry)),
    ];
    const wanted = normalizeRegistryKey(registry);
    const credentials = fromRule?.credentials.get(wanted) ?? fromPod?.credentials.get(wanted);
    if (credentials !== undefined) {
      // A digest of what authenticates, so the key can sit in maps and logs without the secret.
      const key = `secret:sha256:${createHash('sha256').update(JSON.stringify([wanted, credentials])).digest('hex')}`;
      return { key, store: singleRegistryStore(registry, credentials), notes };
    }
    return { key: SERVER_CREDENTIALS_KEY, store: undefined, notes };
  };
}
