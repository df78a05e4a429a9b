// `sigil verify`, `sigil inspect` and `sigil ls`: the reading side of Notary signatures
// (Notation's `notation verify`, `notation inspect`, `notation list`).

import { isReferrerLister, isTag, MEDIA_TYPE_NOTARY_SIGNATURE, type Descriptor } from '../../oci/index.js';
import { decodeCertificate } from '../../pki/index.js';
import { decodeEnvelope, decodePayload, FileTrustStore, formatRfc3339, Verifier } from '../../notary/index.js';
import { fetchSignature, listSignatures, verifyArtifact, type SignatureSource, type VerificationReport } from '../../verify/index.js';
import type { CommandContext, OutputFormat } from '../context.js';
import { CliError } from '../errors.js';
import { parseKeyValues } from '../flags.js';
import { NotationConfig } from '../notation-config.js';
import { resolveRequired, type OpenedTarget } from '../targets.js';

/** Flags of `sigil verify`. */
export interface VerifyFlags {
  readonly ociLayout: boolean;
  readonly scope?: string;
  readonly userMetadata?: string[];
  readonly maxSignatures: number;
  readonly output: OutputFormat;
  readonly verbose?: boolean;
}

async function openSigned(ctx: CommandContext, input: string, ociLayout: boolean, verb: string): Promise<{ opened: OpenedTarget & { target: SignatureSource }; descriptor: Descriptor }> {
  const opened = await ctx.opener.open(input, ociLayout);
  if (!isReferrerLister(opened.target)) throw new CliError(`${opened.name}: this target cannot list referrers`, { code: 'FAILED' });
  const { descriptor, reference } = await resolveRequired(opened, ctx.signal);
  if (isTag(reference)) {
    ctx.stderr.write(`Warning: Always ${verb} the artifact using digest(@${descriptor.digest}) rather than a tag(:${reference}) because resolved digest may not point to the same signed artifact, as tags are mutable.\n`);
  }
  return { opened: opened as OpenedTarget & { target: SignatureSource }, descriptor };
}

/** Runs `sigil verify`. */
export async function runVerify(ctx: CommandContext, input: string, flags: VerifyFlags): Promise<void> {
  if (flags.ociLayout && flags.scope === undefined) throw new CliError('--oci-layout needs --scope REGISTRY/REPOSITORY: the trust policy statement is chosen by scope');
  if (!flags.ociLayout && flags.scope !== undefined) throw new CliError('--scope is only used with --oci-layout');
  if (flags.maxSignatures <= 0) throw new CliError(`max-signatures value ${flags.maxSignatures} must be a positive number`);
  const userMetadata = parseKeyValues('--user-metadata', flags.userMetadata);
  const config = new NotationConfig(ctx.env.configDir);
  // The trust policy is read before any network call: a broken policy fails fast (as notation verify).
  const trustPolicy = await config.loadTrustPolicy();
  const { opened, descriptor } = await openSigned(ctx, input, flags.ociLayout, 'verify');
  const report = await verifyArtifact({
    source: opened.target,
    artifact: descriptor,
    scope: flags.scope ?? opened.name,
    trustPolicy,
    verifier: new Verifier({ trustStore: new FileTrustStore({ root: config.trustStoreRoot }) }),
    maxSignatures: flags.maxSignatures,
    ...(userMetadata === undefined ? {} : { userMetadata }),
    signal: ctx.signal,
  });
  const shown = opened.display(descriptor.digest);
  if (flags.output === 'json') {
    ctx.stdout.write(`${JSON.stringify(reportToJson(report, shown), null, 2)}\n`);
    if (report.status === 'failed') throw new CliError(report.message ?? 'verification failed', { code: 'FAILED' });
    return;
  }
  renderVerifyText(ctx, report, shown, flags.verbose === true);
}

function renderVerifyText(ctx: CommandContext, report: VerificationReport, shown: string, verbose: boolean): void {
  if (report.status === 'skipped') {
    ctx.stdout.write(`Trust policy is configured to skip signature verification for ${shown}\n`);
    return;
  }
  if (report.status === 'failed') {
    // DESIGN.md "Fixed interfaces": a failure is one `Error: …` line, so every signature's reason
    // goes on it (one signature: just its reason; several: each named by digest); --verbose or
    // -o json give the per-check detail.
    if (verbose) for (const a of report.signatures) ctx.stderr.write(`signature ${a.descriptor.digest}: ${a.status} (${a.message ?? 'failed'})\n`);
    const [only] = report.signatures;
    const reasons = report.signatures.length === 1 ? (only?.message ?? 'failed') : report.signatures.map((a) => `${a.descriptor.digest}: ${a.message ?? 'failed'}`).join('; ');
    const summary = report.message ?? 'verification failed';
    throw new CliError(report.signatures.length === 0 ? summary : `${summary}: ${reasons}`, { code: 'FAILED' });
  }
  const passed = report.verified;
  if (verbose) {
    for (const attempt of report.signatures) ctx.stderr.write(`signature ${attempt.descriptor.digest}: ${attempt.status}${attempt.message === undefined ? '' : ` (${attempt.message})`}\n`);
    for (const r of passed?.outcome?.results ?? []) ctx.stderr.write(`  ${r.type}: ${r.status} (${r.action})${r.reason === undefined ? '' : `: ${r.reason}`}\n`);
  }
  for (const warning of passed?.outcome?.warnings ?? []) ctx.stderr.write(`Warning: ${warning}\n`);
  ctx.stdout.write(`Successfully verified signature for ${shown}\n`);
  const metadata = passed?.outcome?.targetArtifact?.annotations ?? {};
  const entries = Object.entries(metadata);
  if (entries.length > 0) {
    const width = Math.max(3, ...entries.map(([k]) => k.length));
    ctx.stdout.write(`\nThe artifact was signed with the following user metadata.\n\n${'KEY'.padEnd(width)}   VALUE\n`);
    for (const [k, v] of entries) ctx.stdout.write(`${k.padEnd(width)}   ${v}\n`);
  }
}

function reportToJson(report: VerificationReport, shown: string): unknown {
  return {
    reference: shown,
    scopeReference: report.reference,
    artifact: report.artifact,
    trustPolicy: report.statement,
    result: report.status,
    ...(report.message === undefined ? {} : { message: report.message }),
    signatures: report.signatures.map((a) => ({
      digest: a.descriptor.digest,
      result: a.status,
      ...(a.message === undefined ? {} : { message: a.message }),
      ...(a.outcome === undefined
        ? {}
        : {
            level: a.outcome.level.name,
            checks: a.outcome.results.map((r) => ({ type: r.type, action: r.action, result: r.status, ...(r.reason === undefined ? {} : { reason: r.reason }) })),
            warnings: a.outcome.warnings,
            ...(a.outcome.targetArtifact?.annotations === undefined ? {} : { userMetadata: a.outcome.targetArtifact.annotations }),
          }),
    })),
  };
}

/** Runs `sigil ls REF`: the digests of the artifact's signatures. */
export async function runList(ctx: CommandContext, input: string, flags: { ociLayout: boolean; maxSignatures: number; output: OutputFormat }): Promise<void> {
  const { opened, descriptor } = await openSigned(ctx, input, flags.ociLayout, 'list');
  const digests: Descriptor[] = [];
  for await (const sig of listSignatures(opened.target, descriptor, { signal: ctx.signal })) {
    if (digests.length >= flags.maxSignatures) break;
    digests.push(sig);
  }
  const shown = opened.display(descriptor.digest);
  if (flags.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ reference: shown, signatures: digests }, null, 2)}\n`);
    return;
  }
  if (digests.length === 0) {
    ctx.stdout.write(`${shown} has no associated signature\n`);
    return;
  }
  ctx.stdout.write(`${shown}\n└── ${MEDIA_TYPE_NOTARY_SIGNATURE}\n`);
  digests.forEach((d, i) => ctx.stdout.write(`    ${i === digests.length - 1 ? '└──' : '├──'} ${d.digest}\n`));
}

/** The inspection of one signature, in Notation 2's `inspect -o json` shape. */
interface InspectedSignature {
  readonly digest: string;
  readonly signatureAlgorithm?: string;
  readonly signatureEnvelopeType: string;
  readonly signedAttributes?: Record<string, string>;
  readonly userDefinedAttributes?: Record<string, string>;
  readonly unsignedAttributes?: Record<string, string>;
  readonly certificates?: readonly { SHA256Fingerprint: string; issuedTo: string; issuedBy: string; expiry: string }[];
  readonly signedArtifact?: Descriptor;
  readonly error?: string;
}

async function inspectOne(source: SignatureSource, sig: Descriptor, signal: AbortSignal): Promise<InspectedSignature> {
  let envelopeType = 'unknown';
  try {
    const fetched = await fetchSignature(source, sig, { signal });
    envelopeType = fetched.manifest.envelope.mediaType;
    const envelope = decodeEnvelope(envelopeType, fetched.envelope);
    const info = envelope.content.signerInfo;
    const signed: Record<string, string> = {
      contentType: envelope.content.payload.contentType,
      signingScheme: info.signedAttributes.signingScheme,
      [info.signedAttributes.signingScheme === 'notary.x509' ? 'signingTime' : 'authenticSigningTime']: formatRfc3339(info.signedAttributes.signingTime),
    };
    if (info.signedAttributes.expiry !== undefined) signed.expiry = formatRfc3339(info.signedAttributes.expiry);
    for (const attr of info.signedAttributes.extendedAttributes) signed[String(attr.key)] = typeof attr.value === 'string' ? attr.value : JSON.stringify(attr.value);
    const unsigned: Record<string, string> = {};
    if (info.unsignedAttributes.signingAgent !== undefined) unsigned.signingAgent = info.unsignedAttributes.signingAgent;
    if (info.unsignedAttributes.timestampSignature !== undefined) unsigned.timestampSignature = `present (${info.unsignedAttributes.timestampSignature.byteLength} bytes; RFC 3161 timestamps are not verified yet)`;
    const target = decodePayload(envelope.content.payload.content).targetArtifact;
    const { annotations, ...artifact } = target;
    return {
      digest: sig.digest,
      signatureAlgorithm: info.signatureAlgorithm,
      signatureEnvelopeType: envelopeType,
      signedAttributes: signed,
      userDefinedAttributes: { ...annotations },
      unsignedAttributes: unsigned,
      certificates: info.certificateChain.map((der) => {
        const cert = decodeCertificate(der);
        return { SHA256Fingerprint: cert.sha256Fingerprint, issuedTo: cert.subject, issuedBy: cert.issuer, expiry: formatRfc3339(cert.notAfter) };
      }),
      signedArtifact: artifact,
    };
  } catch (error) {
    if (signal.aborted) throw error;
    return { digest: sig.digest, signatureEnvelopeType: envelopeType, error: (error as Error).message };
  }
}

/** Runs `sigil inspect REF`: every signature's algorithms, attributes, certificates and signed artifact. */
export async function runInspect(ctx: CommandContext, input: string, flags: { ociLayout: boolean; maxSignatures: number; output: OutputFormat }): Promise<void> {
  const { opened, descriptor } = await openSigned(ctx, input, flags.ociLayout, 'inspect');
  const signatures: InspectedSignature[] = [];
  for await (const sig of listSignatures(opened.target, descriptor, { signal: ctx.signal })) {
    if (signatures.length >= flags.maxSignatures) break;
    signatures.push(await inspectOne(opened.target, sig, ctx.signal));
  }
  const shown = opened.display(descriptor.digest);
  if (flags.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ mediaType: descriptor.mediaType, signatures }, null, 2)}\n`);
    return;
  }
  if (signatures.length === 0) {
    ctx.stdout.write(`${shown} has no associated signature\n`);
    return;
  }
  ctx.stdout.write(renderInspectTree(shown, signatures));
}

type TreeNode = string | { label: string; children: TreeNode[] };

function renderInspectTree(root: string, signatures: readonly InspectedSignature[]): string {
  const kv = (record: Record<string, string> | undefined, empty: string): TreeNode[] => {
    const entries = Object.entries(record ?? {});
    return entries.length === 0 ? [empty] : entries.map(([k, v]) => `${k}: ${v}`);
  };
  const nodes: TreeNode[] = signatures.map((s) =>
    s.error !== undefined
      ? { label: s.digest, children: [`error: ${s.error}`] }
      : {
          label: s.digest,
          children: [
            `signature algorithm: ${s.signatureAlgorithm ?? ''}`,
            `signature envelope type: ${s.signatureEnvelopeType}`,
            { label: 'signed attributes', children: kv(s.signedAttributes, '(empty)') },
            { label: 'user defined attributes', children: kv(s.userDefinedAttributes, '(empty)') },
            { label: 'unsigned attributes', children: kv(s.unsignedAttributes, '(empty)') },
            {
              label: 'certificates',
              children: (s.certificates ?? []).map((c) => ({ label: `SHA256 fingerprint: ${c.SHA256Fingerprint}`, children: [`issued to: ${c.issuedTo}`, `issued by: ${c.issuedBy}`, `expiry: ${c.expiry}`] })),
            },
            { label: 'signed artifact', children: [`media type: ${s.signedArtifact?.mediaType ?? ''}`, `digest: ${s.signedArtifact?.digest ?? ''}`, `size: ${s.signedArtifact?.size ?? ''}`] },
          ],
        },
  );
  const lines = [root];
  const walk = (children: readonly TreeNode[], prefix: string): void => {
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      const label = typeof child === 'string' ? child : child.label;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${label}`);
      if (typeof child !== 'string') walk(child.children, prefix + (last ? '    ' : '│   '));
    });
  };
  walk([{ label: MEDIA_TYPE_NOTARY_SIGNATURE, children: nodes }], '');
  return `${lines.join('\n')}\n`;
}
