// `sigil sign REF`: sign an artifact's manifest digest with a key from signingkeys.json and push
// the signature next to it (Notation's `notation sign`).

import { isTag } from '../../oci/index.js';
import { findSigningKey, loadLocalSigner } from '../../keys/index.js';
import { COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, pushSignature, signArtifact } from '../../notary/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { parseGoDuration, parseKeyValues } from '../flags.js';
import { NotationConfig, readBounded } from '../notation-config.js';
import { resolveRequired } from '../targets.js';
import { SIGNING_AGENT } from '../version.js';

/** Flags of `sigil sign`. */
export interface SignFlags {
  readonly key?: string;
  readonly signatureFormat?: 'jws' | 'cose';
  readonly expiry?: string;
  readonly userMetadata?: string[];
  readonly annotation?: string[];
  readonly ociLayout: boolean;
  readonly id?: string;
  readonly plugin?: string;
}

/** Runs `sigil sign`. */
export async function runSign(ctx: CommandContext, input: string, flags: SignFlags): Promise<void> {
  if (flags.plugin !== undefined || flags.id !== undefined) {
    throw new CliError('signing with plugin keys (--plugin, --id) is not supported yet; use a local key (sigil key ls)', { code: 'FAILED' });
  }
  const config = new NotationConfig(ctx.env.configDir);
  const entry = findSigningKey(await config.loadSigningKeys(), flags.key);
  if (entry.kind === 'plugin') {
    throw new CliError(`signing key "${entry.name}" is held by plugin ${entry.pluginName}; signing through plugins is not supported yet`, { code: 'FAILED' });
  }
  const keyPath = config.resolvePath(entry.keyPath);
  const certPath = config.resolvePath(entry.certPath);
  const signer = loadLocalSigner({ bytes: await readBounded(keyPath), source: keyPath }, { bytes: await readBounded(certPath), source: certPath });
  const format = flags.signatureFormat ?? (await config.signatureFormat()) ?? 'jws';
  const userMetadata = mergeMetadata(parseKeyValues('--user-metadata', flags.userMetadata), parseKeyValues('--annotation', flags.annotation));
  const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const expiry = flags.expiry === undefined ? undefined : new Date(signingTime.getTime() + parseGoDuration('--expiry', flags.expiry));

  const opened = await ctx.opener.open(input, flags.ociLayout);
  const { descriptor, reference } = await resolveRequired(opened, ctx.signal);
  if (isTag(reference)) {
    // notation sign: a tag is resolved first, and the user is told to prefer digests.
    ctx.stderr.write(`Warning: Always sign the artifact using digest(@${descriptor.digest}) rather than a tag(:${reference}) because tags are mutable and a tag reference can point to a different artifact than the one signed.\n`);
  }
  const packed = await signArtifact({
    artifact: descriptor,
    signer,
    envelopeMediaType: format === 'cose' ? COSE_MEDIA_TYPE : JWS_MEDIA_TYPE,
    signingTime,
    expiry,
    userMetadata,
    signingAgent: SIGNING_AGENT,
  });
  await pushSignature(opened.target, packed, { signal: ctx.signal });
  ctx.stdout.write(`Successfully signed ${opened.display(descriptor.digest)}\n`);
  ctx.stdout.write(`Pushed the signature to ${opened.display(packed.manifest.descriptor.digest)}\n`);
}

function mergeMetadata(a: Record<string, string> | undefined, b: Record<string, string> | undefined): Record<string, string> | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  for (const key of Object.keys(b)) if (Object.hasOwn(a, key)) throw new CliError(`user metadata key "${key}" is given more than once`);
  return { ...a, ...b };
}
