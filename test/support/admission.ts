// Kyverno policies for admission tests and benchmarks: a ClusterPolicy shaped like
// ../shared/policies/01-check-image-notary.yaml, with one Notary attestor trusting one certificate.

/** What varies between the tests' policies. */
export interface NotaryPolicyOptions {
  readonly name: string;
  /** The registry whose images the rule checks (`imageReferences: ["HOST/*"]`). */
  readonly host: string;
  /** PEM of the one trusted certificate. */
  readonly cert: string;
  readonly rule?: string;
  /** validationFailureAction; default Enforce. */
  readonly action?: 'Enforce' | 'Audit';
  /** webhookTimeoutSeconds; default 10. */
  readonly timeoutSeconds?: number;
  /** Only Pods in these namespaces match; default any namespace. */
  readonly namespaces?: readonly string[];
  /** Defaults: mutateDigest true (false under Audit, which Kyverno requires), verifyDigest false, required false. */
  readonly mutateDigest?: boolean;
  readonly verifyDigest?: boolean;
  readonly required?: boolean;
}

/** The policy as YAML text, as users write it (the certificate in a block scalar). */
export function notaryPolicyYaml(options: NotaryPolicyOptions): string {
  const indented = options.cert
    .trim()
    .split('\n')
    .map((l) => `                      ${l}`)
    .join('\n');
  const action = options.action ?? 'Enforce';
  const namespaces = options.namespaces === undefined ? '' : `\n              namespaces:\n${options.namespaces.map((n) => `                - ${n}`).join('\n')}`;
  return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: ${options.name}
spec:
  validationFailureAction: ${action}
  webhookTimeoutSeconds: ${options.timeoutSeconds ?? 10}
  rules:
    - name: ${options.rule ?? 'check-digest'}
      match:
        any:
          - resources:
              kinds:
                - Pod${namespaces}
      verifyImages:
        - type: Notary
          imageReferences:
            - "${options.host}/*"
          attestors:
            - count: 1
              entries:
                - certificates:
                    cert: |-
${indented}
          mutateDigest: ${options.mutateDigest ?? action === 'Enforce'}
          verifyDigest: ${options.verifyDigest ?? false}
          required: ${options.required ?? false}
`;
}

/** An Enforce ClusterPolicy with one Pod rule holding `verifyImages`, as JSON text for decodePolicyDocuments. */
export function podRulePolicyText(verifyImages: readonly Record<string, unknown>[], options: { readonly name?: string; readonly rule?: string } = {}): string {
  return JSON.stringify({
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: { name: options.name ?? 'p' },
    spec: {
      validationFailureAction: 'Enforce',
      rules: [{ name: options.rule ?? 'r', match: { any: [{ resources: { kinds: ['Pod'] } }] }, verifyImages }],
    },
  });
}
