// The sigil command line: declares every command and its flags, wires the context, and owns exit codes.
// Commands live in commands/; this file only parses arguments and renders errors (DESIGN.md cli/).

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { loadCliEnvironment } from './config.js';
import type { CommandContext, OutputFormat } from './context.js';
import { CliError } from './errors.js';
import type { RegistryOptions, TargetOpener } from './targets.js';
import { VERSION } from './version.js';

/** Exit code for any failure, as Notation and Kyverno use. */
const EXIT_FAILURE = 1;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function integer(value: string): number {
  const n = Number(value);
  // InvalidArgumentError makes commander name the option: `option '--max-signatures <n>' argument 'x' is invalid. …`
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${value}" is not a whole number`);
  return n;
}

/** Renders any thrown value as the one-line `Error: …` message users see (never a stack unless --debug). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message.split('\n')[0] ?? error.message;
    return message;
  }
  return String(error);
}

/** Runs the CLI with `argv` (as process.argv) and returns the exit code. */
export async function main(argv: readonly string[], io: { stdout?: NodeJS.WritableStream; stderr?: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream } = {}): Promise<number> {
  const env = loadCliEnvironment();
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const stdin = io.stdin ?? process.stdin;
  const controller = new AbortController();
  const onSignal = () => controller.abort(new CliError('interrupted', { code: 'FAILED' }));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let opener: TargetOpener | undefined;
  let debug = false;

  // targets.js brings the registry client and undici: loaded by the commands that need a context, not by --version or --help.
  const context = async (registry: RegistryOptions): Promise<CommandContext> => {
    const { TargetOpener } = await import('./targets.js');
    opener = new TargetOpener(env, registry);
    return { env, opener, stdout, stderr, stdin, signal: controller.signal };
  };
  const registryOptions = (flags: { insecureRegistry?: string[]; forceReferrersTag?: boolean }): RegistryOptions => ({
    insecureRegistry: flags.insecureRegistry ?? [],
    forceReferrersTag: flags.forceReferrersTag ?? false,
  });
  const insecure = () => new Option('--insecure-registry <host>', 'use plain HTTP for this registry (repeatable); loopback registries always use it').argParser(collect);
  const output = (choices: OutputFormat[], fallback: OutputFormat) => new Option('-o, --output <format>', 'output format').choices(choices).default(fallback);

  const program = new Command('sigil')
    .description('Sign container images, keep signatures next to them, verify them, enforce it at admission')
    .version(VERSION)
    .option('-d, --debug', 'print stack traces for errors')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s), outputError: () => {} })
    .hook('preAction', (cmd) => {
      debug = Boolean(cmd.opts().debug);
    });

  program
    .command('cp')
    .description('copy an artifact between registries and OCI layouts; -r also copies its referrers (signatures) graph')
    .argument('<source>', 'REGISTRY/REPO:TAG|@DIGEST, or DIR:TAG|DIR@DIGEST with --from-oci-layout')
    .argument('<destination>', 'REGISTRY/REPO[:TAG], or DIR[:TAG] with --to-oci-layout')
    .option('-r, --recursive', 'also copy referrers, recursively', false)
    .option('--from-oci-layout', 'the source is an OCI image layout', false)
    .option('--to-oci-layout', 'the destination is an OCI image layout (created if absent)', false)
    .option('--concurrency <n>', 'parallel transfers', integer, 4)
    .option('-q, --quiet', 'print nothing on success', false)
    .option('--all-tags', 'copy every tag of the source repository or layout (SRC and DST without tags)', false)
    .option('--force-referrers-tag', 'keep referrers in the referrers tag schema even where the API exists', false)
    .addOption(insecure())
    .action(async (source: string, destination: string, flags) => {
      const { runCopy } = await import('./commands/cp.js');
      await runCopy(await context(registryOptions(flags)), source, destination, flags);
    });

  program
    .command('discover')
    .description('show the referrers tree (signatures and other artifacts) of an artifact')
    .argument('<reference>', 'REGISTRY/REPO:TAG|@DIGEST, or DIR:TAG|DIR@DIGEST with --oci-layout')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .option('--artifact-type <type>', 'only referrers of this artifact type (first level)')
    .addOption(output(['tree', 'json'], 'tree'))
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runDiscover } = await import('./commands/discover.js');
      await runDiscover(await context(registryOptions(flags)), reference, flags);
    });

  program
    .command('resolve')
    .description('print the digest a reference resolves to')
    .argument('<reference>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .option('--descriptor', 'print the whole descriptor as JSON', false)
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runResolve } = await import('./commands/manifest.js');
      await runResolve(await context(registryOptions(flags)), reference, flags);
    });

  const manifest = program.command('manifest').description('fetch or delete a manifest');
  manifest
    .command('fetch')
    .description('print a manifest exactly as stored')
    .argument('<reference>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .option('--descriptor', 'print its descriptor instead', false)
    .option('--pretty', 'indent the JSON', false)
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runManifestFetch } = await import('./commands/manifest.js');
      await runManifestFetch(await context(registryOptions(flags)), reference, flags);
    });
  manifest
    .command('delete')
    .description('delete the manifest a reference resolves to')
    .argument('<reference>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runManifestDelete } = await import('./commands/manifest.js');
      await runManifestDelete(await context(registryOptions(flags)), reference, flags);
    });

  program
    .command('tag')
    .description('point one or more new tags at what a reference resolves to')
    .argument('<reference>')
    .argument('<tags...>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .addOption(insecure())
    .action(async (reference: string, tags: string[], flags) => {
      const { runTag } = await import('./commands/manifest.js');
      await runTag(await context(registryOptions(flags)), reference, tags, flags);
    });

  program
    .command('login')
    .description("log in to a registry; credentials are stored as docker login stores them")
    .argument('<registry>')
    .option('-u, --username <name>')
    .option('-p, --password <password>', 'insecure: prefer --password-stdin')
    .option('--password-stdin', 'read the password from standard input', false)
    .addOption(insecure())
    .action(async (registry: string, flags) => {
      const { runLogin } = await import('./commands/login.js');
      await runLogin(await context(registryOptions(flags)), registry, flags);
    });
  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>')
    .action(async (registry: string) => {
      const { runLogout } = await import('./commands/login.js');
      await runLogout(await context(registryOptions({})), registry);
    });

  const registry = program.command('registry').description('the embedded OCI registry');
  registry
    .command('serve')
    .description('serve an OCI Distribution v1.1 registry with the referrers API (until SIGINT/SIGTERM)')
    .option('--addr <host:port>', 'listen address', '127.0.0.1:5000')
    .option('--root <dir>', 'data directory (default: $XDG_DATA_HOME/sigil/registry)')
    .option('--read-only', 'refuse every write', false)
    .option('--database <url>', 'metadata in PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DB) instead of the embedded database')
    .option('--htpasswd <file>', 'require Basic auth for these users (bcrypt entries, htpasswd -B)')
    .option('--token-auth', 'issue Bearer tokens at /token to --htpasswd users and require them (Docker token authentication)', false)
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate chain')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .addOption(new Option('--log-level <level>', 'structured log level on stderr').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info'))
    .action(async (flags) => {
      const { runRegistryServe } = await import('./commands/registry.js');
      await runRegistryServe(await context(registryOptions({})), flags);
    });

  registry
    .command('gc')
    .description('remove expired uploads and content nothing references (safe while the registry serves)')
    .option('--root <dir>', 'data directory (default: $XDG_DATA_HOME/sigil/registry)')
    .option('--grace <duration>', 'keep unreferenced content younger than this', '1h')
    .option('--upload-ttl <duration>', 'remove upload sessions untouched this long', '24h')
    .option('--database <url>', 'the PostgreSQL database the registry uses, when not the embedded one')
    .option('--dry-run', 'only report what would go', false)
    .action(async (flags) => {
      const { runRegistryGc } = await import('./commands/registry.js');
      await runRegistryGc(await context(registryOptions({})), flags);
    });

  program
    .command('sign')
    .description('sign an artifact (its manifest digest) and push the signature next to it as a referrer')
    .argument('<reference>', 'REGISTRY/REPO:TAG|@DIGEST, or DIR:TAG|DIR@DIGEST with --oci-layout')
    .option('-k, --key <name>', 'signing key from signingkeys.json (default: the default key)')
    .addOption(new Option('--signature-format <format>', 'envelope format (default: config.json signatureFormat, else jws)').choices(['jws', 'cose']))
    .option('-e, --expiry <duration>', 'the signature expires after this Go duration, e.g. 24h or 1h30m')
    .option('-m, --user-metadata <key=value>', 'signed user metadata (repeatable)', collect)
    .option('-a, --annotation <key=value>', 'alias of --user-metadata (repeatable)', collect)
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .option('--force-referrers-tag', 'keep the signature in the referrers tag schema even where the API exists', false)
    .option('--plugin <name>', 'sign with a plugin key (not supported yet)')
    .option('--id <key-id>', 'the plugin key id (not supported yet)')
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runSign } = await import('./commands/sign.js');
      await runSign(await context(registryOptions(flags)), reference, flags);
    });

  const maxSignatures = () => new Option('--max-signatures <n>', 'at most this many signatures are evaluated').argParser(integer).default(100);
  program
    .command('verify')
    .description('verify an artifact against the trust policy and trust store')
    .argument('<reference>', 'REGISTRY/REPO:TAG|@DIGEST, or DIR:TAG|DIR@DIGEST with --oci-layout')
    .option('--oci-layout', 'the reference names an OCI image layout (needs --scope)', false)
    .option('--scope <registry/repository>', 'the registry scope a layout is verified as')
    .option('-m, --user-metadata <key=value>', 'require this signed user metadata (repeatable)', collect)
    .addOption(maxSignatures())
    .addOption(output(['text', 'json'], 'text'))
    .option('-v, --verbose', 'report every check of every signature', false)
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runVerify } = await import('./commands/verify.js');
      await runVerify(await context(registryOptions(flags)), reference, flags);
    });

  program
    .command('inspect')
    .description("show every signature of an artifact: algorithms, attributes, certificates, signed artifact")
    .argument('<reference>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .addOption(maxSignatures())
    .addOption(output(['tree', 'json'], 'tree'))
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runInspect } = await import('./commands/verify.js');
      await runInspect(await context(registryOptions(flags)), reference, flags);
    });

  program
    .command('ls')
    .alias('list')
    .description('list the signatures of an artifact')
    .argument('<reference>')
    .option('--oci-layout', 'the reference names an OCI image layout', false)
    .addOption(maxSignatures())
    .addOption(output(['tree', 'json'], 'tree'))
    .addOption(insecure())
    .action(async (reference: string, flags) => {
      const { runList } = await import('./commands/verify.js');
      await runList(await context(registryOptions(flags)), reference, flags);
    });

  const storeType = () => new Option('-t, --type <type>', 'trust store type').choices(['ca', 'signingAuthority', 'tsa']);
  const cert = program.command('cert').alias('certificate').description('certificates in the trust store');
  cert
    .command('generate-test')
    .description('generate a self-signed test signing key and certificate, trust it (ca:NAME) and register the key')
    .argument('<name>')
    .option('-b, --bits <n>', 'RSA key size: 2048, 3072 or 4096', integer, 2048)
    .option('--default', 'make it the default signing key', false)
    .action(async (name: string, flags) => {
      const { runCertGenerateTest } = await import('./commands/cert.js');
      await runCertGenerateTest(await context(registryOptions({})), name, flags);
    });
  cert
    .command('add')
    .description('add certificate files to a trust store')
    .addOption(storeType().makeOptionMandatory())
    .requiredOption('-s, --store <name>', 'trust store name')
    .argument('<files...>')
    .action(async (files: string[], flags) => {
      const { runCertAdd } = await import('./commands/cert.js');
      await runCertAdd(await context(registryOptions({})), files, flags);
    });
  cert
    .command('ls')
    .alias('list')
    .description('list trust store certificates')
    .addOption(storeType())
    .option('-s, --store <name>', 'trust store name')
    .action(async (flags) => {
      const { runCertList } = await import('./commands/cert.js');
      await runCertList(await context(registryOptions({})), flags);
    });
  cert
    .command('show')
    .description('show a trust store certificate file')
    .addOption(storeType().makeOptionMandatory())
    .requiredOption('-s, --store <name>', 'trust store name')
    .argument('<file>')
    .action(async (file: string, flags) => {
      const { runCertShow } = await import('./commands/cert.js');
      await runCertShow(await context(registryOptions({})), file, flags);
    });
  cert
    .command('delete')
    .description('delete a certificate file (or --all) from a trust store')
    .addOption(storeType().makeOptionMandatory())
    .requiredOption('-s, --store <name>', 'trust store name')
    .option('--all', 'delete the whole store', false)
    .option('-y, --yes', 'do not ask (sigil never prompts; accepted for Notation compatibility)', false)
    .argument('[file]')
    .action(async (file: string | undefined, flags) => {
      const { runCertDelete } = await import('./commands/cert.js');
      await runCertDelete(await context(registryOptions({})), file, flags);
    });

  const key = program.command('key').description('signing keys (signingkeys.json)');
  key
    .command('add')
    .description('register a local key (--key-file, --cert-file) or a plugin key (--plugin, --id)')
    .argument('<name>')
    .option('--key-file <file>', 'PEM private key (PKCS#8, PKCS#1 or SEC1)')
    .option('--cert-file <file>', 'PEM certificate chain, leaf first')
    .option('--plugin <name>', 'plugin holding the key')
    .option('--id <key-id>', "the plugin's key id")
    .option('--plugin-config <key=value>', 'plugin configuration (repeatable)', collect)
    .option('--default', 'make it the default signing key', false)
    .action(async (name: string, flags) => {
      const { runKeyAdd } = await import('./commands/key.js');
      await runKeyAdd(await context(registryOptions({})), name, flags);
    });
  key
    .command('ls')
    .alias('list')
    .description('list signing keys; * marks the default')
    .addOption(output(['text', 'json'], 'text'))
    .action(async (flags) => {
      const { runKeyList } = await import('./commands/key.js');
      await runKeyList(await context(registryOptions({})), flags);
    });
  key
    .command('update')
    .alias('set')
    .description('change a signing key entry')
    .argument('<name>')
    .option('--default', 'make it the default signing key', false)
    .action(async (name: string, flags) => {
      const { runKeyUpdate } = await import('./commands/key.js');
      await runKeyUpdate(await context(registryOptions({})), name, flags);
    });
  key
    .command('delete')
    .alias('rm')
    .description('remove signing key entries (files are kept)')
    .argument('<names...>')
    .action(async (names: string[]) => {
      const { runKeyDelete } = await import('./commands/key.js');
      await runKeyDelete(await context(registryOptions({})), names);
    });

  const policy = program.command('policy').description('the OCI trust policy');
  policy
    .command('import')
    .description('validate and install a trust policy file')
    .argument('<file>')
    .option('--force', 'replace an existing trust policy', false)
    .action(async (file: string, flags) => {
      const { runPolicyImport } = await import('./commands/policy.js');
      await runPolicyImport(await context(registryOptions({})), file, flags);
    });
  policy
    .command('show')
    .description('print the trust policy in use')
    .action(async () => {
      const { runPolicyShow } = await import('./commands/policy.js');
      await runPolicyShow(await context(registryOptions({})));
    });
  policy
    .command('init')
    .description('write a one-statement trust policy')
    .requiredOption('--name <name>', 'statement name')
    .option('--scope <registry/repository>', 'registry scope (repeatable; default *)', collect)
    .option('--trust-store <type:name>', 'trust store (repeatable)', collect)
    .option('--trusted-identity <identity>', 'trusted identity, e.g. "x509.subject: C=US, ST=WA, O=acme" or * (repeatable)', collect)
    .addOption(new Option('--level <level>', 'verification level').choices(['strict', 'permissive', 'audit', 'skip']).default('strict'))
    .option('--force', 'replace an existing trust policy', false)
    .action(async (flags) => {
      const { runPolicyInit } = await import('./commands/policy.js');
      await runPolicyInit(await context(registryOptions({})), flags);
    });
  policy
    .command('autogen')
    .description('print the rules Kyverno autogen generates for the pod controllers of each policy in a Kyverno policy file')
    .argument('<file>', 'Kyverno ClusterPolicy / Policy YAML')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (file: string, flags: { output: 'yaml' | 'json' }) => {
      const { runPolicyAutogen } = await import('./commands/autogen.js');
      await runPolicyAutogen(await context(registryOptions({})), file, flags);
    });

  program
    .command('apply')
    .description('evaluate Kyverno verifyImages policies against resource YAML, as kyverno apply does')
    .argument('<policy...>', 'policy files or directories (ClusterPolicy, Policy, PolicyException)')
    .option('-r, --resource <file>', 'resource YAML to evaluate as a CREATE (repeatable, multi-document)', collect)
    .option('--registry-access', 'fetch images and signatures from their registries (off: rules needing verification report error)', false)
    .option('--audit-warn', 'report failures of Audit rules as warnings, which do not fail the command', false)
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(insecure())
    .action(async (policies: string[], flags) => {
      const { runApply } = await import('./commands/apply.js');
      await runApply(await context(registryOptions(flags)), policies, flags);
    });

  const admission = program.command('admission').description('the Kubernetes admission webhook (Kyverno verifyImages policies)');
  admission
    .command('serve')
    .description('serve /validate, /mutate, /checkimages, /healthz and /readyz over HTTPS (until SIGINT/SIGTERM)')
    .option('--addr <host:port>', 'listen address', '127.0.0.1:9443')
    .option('--policies <path>', 'Kyverno policy YAML: a file or a directory (ClusterPolicy, Policy, PolicyException); required unless connected to a cluster')
    .option('--kubeconfig <file>', 'connect to the cluster of this kubeconfig: enforce its sigil.dev policies too, read namespace labels and registry pull Secrets, write PolicyReports')
    .option('--context <name>', 'the kubeconfig context to connect with (default its current-context); alone, it connects through $KUBECONFIG or ~/.kube/config')
    .option('--in-cluster', "connect to the cluster with the pod's service account (as the install manifests run it)")
    .option('--namespace <name>', "Sigil's own namespace, where plain imageRegistryCredentials.secrets names are read (default: the pod's namespace with --in-cluster, else sigil-system)")
    .option('--tls-cert <file>', 'serve with this PEM certificate chain')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--tls-dir <dir>', 'use ca.crt, tls.crt and tls.key here; generate a CA and serving certificate when empty')
    .option('--reports-dir <dir>', 'also write the PolicyReport of each admitted resource here, as JSON')
    .option('--reload-interval <duration>', 'how often policy and TLS files are checked for changes (e.g. 2s, 500ms)', '2s')
    .option('--timeout-seconds <n>', "the webhook configuration's timeoutSeconds (1 to 30); default: the policies' webhookTimeoutSeconds, else 10", integer)
    .option('--background-scan-interval <duration>', 'connected to a cluster: how often existing resources are verified again for policies with background: true, their reports replaced (0 turns scans off)', '1h')
    .addOption(insecure())
    .action(async (flags) => {
      const { runAdmissionServe } = await import('./commands/admission.js');
      await runAdmissionServe(await context(registryOptions(flags)), flags);
    });
  admission
    .command('manifests')
    .description('print the webhook install manifests and the sigil.dev CRDs (pipe to kubectl apply -f -)')
    .option('--namespace <name>', 'namespace of the webhook server', 'sigil-system')
    .option('--image <reference>', 'the sigil container image (default: this release)')
    .option('--replicas <n>', 'server replicas (the PodDisruptionBudget keeps all but one)', integer, 3)
    .option('--tls-dir <dir>', 'ca.crt, tls.crt and tls.key for the Secret and caBundle; generated when empty')
    .addOption(new Option('--failure-policy <policy>', 'when the webhook cannot answer: refuse (Fail) or admit (Ignore)').choices(['Fail', 'Ignore']).default('Fail'))
    .option('--timeout-seconds <n>', 'webhook timeout, 1 to 30 (default: the largest webhookTimeoutSeconds of --policies, else 10)', integer)
    .option('--policies <path>', 'Kyverno policy files or directories for the sigil-policies ConfigMap (repeatable)', collect)
    .option('--crds-only', 'print only the sigil.dev CRDs', false)
    .option('--no-crds', 'leave out the sigil.dev CRDs')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action(async (flags) => {
      const { runAdmissionManifests } = await import('./commands/admission-manifests.js');
      await runAdmissionManifests(await context(registryOptions({})), flags);
    });

  program
    .command('demo')
    .description('run the quick-start job end to end on embedded defaults')
    .option('--work-dir <dir>', 'where to write (default: a new temp dir)')
    .action(async (flags) => {
      const { runDemo } = await import('./commands/demo.js');
      await runDemo(await context(registryOptions({})), flags);
    });

  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return 0; // --help, --version
      stderr.write(`Error: ${error.message.replace(/^error: /, '')}\n`);
      return EXIT_FAILURE;
    }
    stderr.write(`Error: ${describeError(error)}\n`);
    if (debug && error instanceof Error && error.stack) stderr.write(`${error.stack}\n`);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await opener?.close().catch(() => {
      // closing idle connections cannot change the command's outcome
    });
  }
}
