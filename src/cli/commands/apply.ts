// `sigil apply POLICY... --resource FILE...`: evaluates Kyverno verifyImages policies against
// resource YAML offline, as `kyverno apply` does: every resource is admitted as a CREATE, one row
// per policy / rule / image, a summary line, and exit code 1 when anything fails or errors.

import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { evaluateImages, formatTarget, labelMap, type EvaluationRequest, type ImageRuleResult, type VerifyImage } from '../../admission/index.js';
import { createRegistryImageVerifier, expandPaths, loadPolicyFiles } from '../../server/admission/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';

/** Flags of `sigil apply`. */
export interface ApplyFlags {
  readonly resource?: string[];
  readonly registryAccess?: boolean;
  readonly output: 'table' | 'json';
  readonly auditWarn?: boolean;
}

/** A result as `sigil apply` reports it: `warn` is an Audit failure under --audit-warn. */
type ApplyResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

interface Row {
  readonly resource: { readonly kind: string; readonly namespace: string; readonly name: string };
  readonly policy: string;
  readonly rule: string;
  readonly image: string | undefined;
  readonly result: ApplyResult;
  readonly message: string;
  readonly digest: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads every resource document of `file` as the request a CREATE of it would be. */
async function loadResources(file: string): Promise<EvaluationRequest[]> {
  const text = await readFile(file, 'utf8');
  const out: EvaluationRequest[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length > 0) throw new CliError(`${file}: document ${i}: ${doc.errors[0]?.message.split('\n')[0] ?? 'invalid YAML'}`);
    const object: unknown = doc.toJS({ maxAliasCount: 100 });
    if (object === null || object === undefined) return;
    if (!isObject(object) || typeof object['kind'] !== 'string' || typeof object['apiVersion'] !== 'string') throw new CliError(`${file}: document ${i} is not a Kubernetes resource (no apiVersion or kind)`);
    const metadata = isObject(object['metadata']) ? object['metadata'] : {};
    const name = typeof metadata['name'] === 'string' ? metadata['name'] : typeof metadata['generateName'] === 'string' ? metadata['generateName'] : '';
    const apiVersion = object['apiVersion'];
    const slash = apiVersion.indexOf('/');
    // Like kyverno apply, a namespaced resource without a namespace is evaluated in `default`.
    const namespace = typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default';
    out.push({
      kind: { group: slash < 0 ? '' : apiVersion.slice(0, slash), version: slash < 0 ? apiVersion : apiVersion.slice(slash + 1), kind: object['kind'] },
      name,
      namespace,
      operation: 'CREATE',
      labels: labelMap(metadata['labels']),
      annotations: labelMap(metadata['annotations']),
      namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
      object,
    });
  });
  return out;
}

/** Without --registry-access nothing is fetched: a rule that needs a signature cannot be decided. */
const offlineVerifier: VerifyImage = async (image) => ({
  status: 'error',
  message: `registry access is off, so ${formatTarget(image)} cannot be verified; rerun with --registry-access`,
});

function toRow(request: EvaluationRequest, result: ImageRuleResult, auditWarn: boolean): Row {
  const outcome: ApplyResult = result.result === 'fail' && result.action === 'Audit' && auditWarn ? 'warn' : result.result;
  return { resource: { kind: request.kind.kind, namespace: request.namespace, name: request.name }, policy: result.policy, rule: result.rule, image: result.image, result: outcome, message: result.message, digest: result.digest };
}

function renderTable(rows: readonly Row[]): string {
  const header = ['RESOURCE', 'POLICY', 'RULE', 'RESULT', 'MESSAGE'];
  const cells = rows.map((r) => [`${r.resource.kind}/${r.resource.namespace}/${r.resource.name}`, r.policy, r.rule, r.result, r.message.replace(/\s*\n\s*/g, ' ')]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

/** Runs `sigil apply`. */
export async function runApply(ctx: CommandContext, policyPaths: readonly string[], flags: ApplyFlags): Promise<void> {
  const resourcePaths = flags.resource ?? [];
  if (resourcePaths.length === 0) throw new CliError('no resources: pass --resource FILE (repeatable)');
  const { policies, exceptions } = await loadPolicyFiles(policyPaths);
  const requests = (await Promise.all((await expandPaths(resourcePaths)).map(loadResources))).flat();
  const verifyImage = flags.registryAccess === true ? createRegistryImageVerifier(ctx.opener.client) : offlineVerifier;
  const rows: Row[] = [];
  for (const request of requests) {
    const evaluation = await evaluateImages({ policies, exceptions, request, verifyImage, signal: ctx.signal });
    rows.push(...evaluation.results.map((r) => toRow(request, r, flags.auditWarn === true)));
  }
  const summary: Record<ApplyResult, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const row of rows) summary[row.result]++;
  if (flags.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ results: rows, summary }, null, 2)}\n`);
  } else {
    if (rows.length > 0) ctx.stdout.write(`${renderTable(rows)}\n\n`);
    ctx.stdout.write(`Applied ${policies.length} ${policies.length === 1 ? 'policy' : 'policies'} to ${requests.length} ${requests.length === 1 ? 'resource' : 'resources'}\n`);
    ctx.stdout.write(`pass: ${summary.pass}, fail: ${summary.fail}, warn: ${summary.warn}, error: ${summary.error}, skip: ${summary.skip}\n`);
  }
  if (summary.fail > 0 || summary.error > 0) {
    throw new CliError(`policy checks did not pass: ${summary.fail} fail, ${summary.error} error`, { code: 'FAILED' });
  }
}
