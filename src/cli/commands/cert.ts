// `sigil cert generate-test|add|ls|show|delete`: the trust store, laid out as Notation's
// (truststore/x509/{ca,signingAuthority,tsa}/NAME/FILE).

import { basename, join } from 'node:path';
import { addSigningKey } from '../../keys/index.js';
import { decodeCertificates, encodeCertificatesPem, generateTestCertificate } from '../../pki/index.js';
import { addTrustStoreCertificates, deleteTrustStoreCertificates, formatRfc3339, isTrustStoreName, listTrustStoreCertificates, type TrustStoreType } from '../../notary/index.js';
import type { CommandContext } from '../context.js';
import { CliError } from '../errors.js';
import { NotationConfig, readBounded, writeAtomic } from '../notation-config.js';

/**
 * Runs `sigil cert generate-test NAME`: as `notation cert generate-test`, a self-signed RSA
 * code-signing certificate valid 24 hours, its key in localkeys/, the certificate trusted as
 * `ca:NAME` and the key registered in signingkeys.json.
 */
export async function runCertGenerateTest(ctx: CommandContext, name: string, flags: { bits: number; default?: boolean }): Promise<void> {
  if (!isTrustStoreName(name)) throw new CliError(`"${name}" cannot name a key and trust store: use letters, digits, '.', '_' and '-'`);
  if (![2048, 3072, 4096].includes(flags.bits)) throw new CliError(`--bits ${flags.bits}: RSA key size must be 2048, 3072 or 4096`);
  const config = new NotationConfig(ctx.env.configDir);
  const keys = await config.loadSigningKeys();
  const keyPath = join(config.localKeysDir, `${name}.key`);
  const certPath = join(config.localKeysDir, `${name}.crt`);
  const entry = { kind: 'local' as const, name, keyPath, certPath };
  const updated = addSigningKey(keys, entry, { makeDefault: flags.default === true }); // refuses an existing name before anything is written
  ctx.stdout.write(`generating RSA Key with ${flags.bits} bits\n`);
  const generated = generateTestCertificate({ name, rsaBits: flags.bits, now: new Date() });
  ctx.stdout.write(`generated certificate expiring on ${formatRfc3339(generated.certificate.notAfter)}\n`);
  await writeAtomic(keyPath, generated.privateKeyPem, 0o600);
  ctx.stdout.write(`wrote key: ${keyPath}\n`);
  await writeAtomic(certPath, encodeCertificatesPem([generated.certificate]), 0o600);
  ctx.stdout.write(`wrote certificate: ${certPath}\n`);
  await addTrustStoreCertificates({ root: config.trustStoreRoot, type: 'ca', name, files: [certPath] });
  ctx.stdout.write(`Successfully added ${basename(certPath)} to named store ${name} of type ca\n`);
  await config.saveSigningKeys(updated);
  ctx.stdout.write(`${name}${flags.default === true ? ' (default)' : ''}: added to the key list\n`);
}

/** Runs `sigil cert add -t TYPE -s STORE FILE...`. */
export async function runCertAdd(ctx: CommandContext, files: readonly string[], flags: { type: TrustStoreType; store: string }): Promise<void> {
  const config = new NotationConfig(ctx.env.configDir);
  const added = await addTrustStoreCertificates({ root: config.trustStoreRoot, type: flags.type, name: flags.store, files });
  for (const entry of added) ctx.stdout.write(`Successfully added ${basename(entry.path)} to named store ${entry.name} of type ${entry.type}\n`);
}

/** Runs `sigil cert ls [-t TYPE] [-s STORE]`: one path per certificate file. */
export async function runCertList(ctx: CommandContext, flags: { type?: TrustStoreType; store?: string }): Promise<void> {
  const config = new NotationConfig(ctx.env.configDir);
  const entries = await listTrustStoreCertificates({ root: config.trustStoreRoot, ...(flags.type === undefined ? {} : { type: flags.type }), ...(flags.store === undefined ? {} : { name: flags.store }) });
  if (entries.length === 0) {
    ctx.stdout.write('no certificates found in the trust store\n');
    return;
  }
  for (const entry of entries) ctx.stdout.write(`${entry.path}\n`);
}

/** Runs `sigil cert show -t TYPE -s STORE FILE`: each certificate's subject, issuer, validity and fingerprint. */
export async function runCertShow(ctx: CommandContext, file: string, flags: { type: TrustStoreType; store: string }): Promise<void> {
  if (basename(file) !== file) throw new CliError(`"${file}": give the certificate's file name inside the store, not a path`);
  const config = new NotationConfig(ctx.env.configDir);
  const entries = await listTrustStoreCertificates({ root: config.trustStoreRoot, type: flags.type, name: flags.store });
  const entry = entries.find((e) => basename(e.path) === file);
  if (entry === undefined) throw new CliError(`certificate ${file} is not in trust store ${flags.type}:${flags.store}`, { code: 'FAILED' });
  const certs = decodeCertificates(await readBounded(entry.path), entry.path);
  ctx.stdout.write(`Displaying details of certificate: ${entry.path}\n`);
  for (const cert of certs) {
    ctx.stdout.write(
      `-----------------------------------------------------------------\n` +
        `Issuer: ${cert.issuer}\nSubject: ${cert.subject}\nValid from: ${formatRfc3339(cert.notBefore)}\nValid to: ${formatRfc3339(cert.notAfter)}\n` +
        `IsCA: ${cert.basicConstraints?.cA === true}\nSHA256 Thumbprint: ${cert.sha256Fingerprint}\n`,
    );
  }
}

/** Runs `sigil cert delete -t TYPE -s STORE (FILE | --all)`. */
export async function runCertDelete(ctx: CommandContext, file: string | undefined, flags: { type: TrustStoreType; store: string; all?: boolean }): Promise<void> {
  if ((file === undefined) === (flags.all !== true)) throw new CliError('give either one certificate file name or --all');
  const config = new NotationConfig(ctx.env.configDir);
  await deleteTrustStoreCertificates({ root: config.trustStoreRoot, type: flags.type, name: flags.store, ...(file === undefined ? {} : { file }) });
  ctx.stdout.write(file === undefined ? `Successfully deleted trust store ${flags.type}:${flags.store}\n` : `Successfully deleted ${file} from trust store ${flags.type}:${flags.store}\n`);
}
