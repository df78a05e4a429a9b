// Turns what the user typed (a registry reference or an OCI layout path) into a content target.
// DESIGN.md "Fixed interfaces": --oci-layout makes DIR:TAG or DIR@DIGEST name an OCI image layout.

import {
  formatReference,
  OciLayout,
  parseDockerReference,
  parseLayoutReference,
  type Deleter,
  type Descriptor,
  type Reference,
  type ReferrerLister,
  type TagLister,
  type Target,
} from '../oci/index.js';
import { DockerCredentialStore, RegistryClient } from '../registry/index.js';
import { CliError } from './errors.js';
import type { CliEnvironment } from './config.js';

/** A target with every optional capability the CLI may use. */
export type CliTarget = Target & Partial<ReferrerLister & Deleter & TagLister>;

/** An opened target and the reference (tag or digest) within it the user named. */
export interface OpenedTarget {
  readonly kind: 'registry' | 'oci-layout';
  readonly target: CliTarget;
  /** Tag or digest inside the target; undefined when the user named only a repository or layout. */
  readonly reference: string | undefined;
  /** How to show the target to people: `registry/repo` or the layout path. */
  readonly name: string;
  /** Renders `name` with a tag or digest. */
  display(reference?: string): string;
  /** The parsed registry reference (registry targets only). */
  readonly parsed?: Reference;
}

/** Registry options shared by every command. */
export interface RegistryOptions {
  readonly insecureRegistry?: readonly string[];
  readonly forceReferrersTag?: boolean;
}

/** Builds registry clients lazily, sharing one connection pool and credential store per CLI run. */
export class TargetOpener {
  readonly #env: CliEnvironment;
  readonly #options: RegistryOptions;
  #client: RegistryClient | undefined;

  constructor(env: CliEnvironment, options: RegistryOptions) {
    this.#env = env;
    this.#options = options;
  }

  /** The shared registry client. */
  get client(): RegistryClient {
    this.#client ??= new RegistryClient({
      credentials: new DockerCredentialStore(this.#env.dockerConfigPath),
      insecureRegistries: this.#options.insecureRegistry ?? [],
    });
    return this.#client;
  }

  /** Opens `input` as an OCI layout (when `ociLayout`) or a registry repository. */
  async open(input: string, ociLayout: boolean, options: { create?: boolean } = {}): Promise<OpenedTarget> {
    if (ociLayout) {
      const { path, reference } = parseLayoutReference(input);
      const target = await OciLayout.open(path, { create: options.create ?? false });
      return {
        kind: 'oci-layout',
        target,
        reference,
        name: path,
        display: (ref = reference) => (ref === undefined ? path : ref.includes(':') && ref.startsWith('sha') ? `${path}@${ref}` : `${path}:${ref}`),
      };
    }
    const parsed = parseDockerReference(input);
    const target = this.client.repository(parsed.registry, parsed.repository, {
      referrersCapability: this.#options.forceReferrersTag ? 'tag-schema' : 'auto',
    });
    const name = `${parsed.registry}/${parsed.repository}`;
    return {
      kind: 'registry',
      target,
      reference: parsed.digest ?? parsed.tag,
      name,
      parsed,
      display: (ref = parsed.digest ?? parsed.tag) => formatReference(ref === undefined ? { registry: parsed.registry, repository: parsed.repository } : ref.startsWith('sha256:') || ref.startsWith('sha512:') ? { registry: parsed.registry, repository: parsed.repository, digest: ref } : { registry: parsed.registry, repository: parsed.repository, tag: ref }),
    };
  }

  /** Closes pooled connections so the process can exit promptly. */
  async close(): Promise<void> {
    await this.#client?.close();
  }
}

/** Resolves the user's reference, requiring one: `REF` must carry a tag or digest. */
export async function resolveRequired(opened: OpenedTarget, signal: AbortSignal): Promise<{ descriptor: Descriptor; reference: string }> {
  if (opened.reference === undefined) {
    throw new CliError(`"${opened.name}": no tag or digest; expecting ${opened.kind === 'oci-layout' ? 'DIR:TAG or DIR@DIGEST' : 'REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST'}`);
  }
  const descriptor = await opened.target.resolve(opened.reference, { signal });
  return { descriptor, reference: opened.reference };
}
