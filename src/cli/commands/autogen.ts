// `sigil policy autogen FILE`: prints the rules Kyverno's autogen generates for each policy in a file,
// in the shape Kyverno writes them (`status.autogen.rules`), as YAML or JSON.

import { stringify } from 'yaml';
import { autogenRules, decodePolicyDocuments, encodeRule, MAX_POLICY_TEXT_BYTES, PolicyError, type KyvernoPolicy, type PolicyDocument } from '../../admission/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { readBounded } from '../notation-config.js';

/** Output formats of `sigil policy autogen`. */
export type AutogenOutput = 'yaml' | 'json';

/** One policy as printed: its identity plus `status.autogen.rules`, as `kubectl get cpol -o yaml` shows it. */
function render(policy: KyvernoPolicy): Record<string, unknown> {
  const metadata: Record<string, string> = { name: policy.metadata.name };
  if (policy.metadata.namespace !== undefined) metadata.namespace = policy.metadata.namespace;
  return { apiVersion: policy.apiVersion, kind: policy.kind, metadata, status: { autogen: { rules: autogenRules(policy).map(encodeRule) } } };
}

/** Every problem on one line, so a user sees all of them at once (the error's own message shows only the first). */
function describeProblems(file: string, error: PolicyError): string {
  const problems = error.problems.map((p) => (p.path === '' ? p.message : `${p.path}: ${p.message}`));
  return `${file}: ${problems.length === 1 ? 'invalid policy' : `${problems.length} problems`}: ${problems.join('; ')}`;
}

/** Runs `sigil policy autogen FILE`: decodes the file's policies and prints each with its generated rules. */
export async function runPolicyAutogen(ctx: CommandContext, file: string, flags: { output: AutogenOutput }): Promise<void> {
  const text = Buffer.from(await readBounded(file, MAX_POLICY_TEXT_BYTES)).toString('utf8');
  let documents: PolicyDocument[];
  try {
    documents = decodePolicyDocuments(text, file);
  } catch (error) {
    if (error instanceof PolicyError) throw new CliError(describeProblems(file, error), { code: 'FAILED', cause: error });
    throw error;
  }
  const policies = documents.filter((d): d is KyvernoPolicy => d.kind !== 'PolicyException');
  if (policies.length === 0) throw new CliError(`${file}: no ClusterPolicy or Policy documents; autogen applies to policies only`, { code: 'FAILED' });
  const rendered = policies.map(render);
  if (flags.output === 'json') {
    // kubectl's convention: one object prints as itself, several as a List.
    const [only] = rendered;
    const value = rendered.length === 1 && only !== undefined ? only : { apiVersion: 'v1', kind: 'List', items: rendered };
    ctx.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  ctx.stdout.write(rendered.map((r) => stringify(r, { lineWidth: 0 })).join('---\n'));
}
