// Verification levels as data: the four presets of trust-store-trust-policy.md (Signature Verification
// details, Verification levels) and the `override` rules that turn one into a custom level.

import { TrustPolicyError } from './errors.js';

/** The five checks of signature verification, in the spec's spelling. */
export type ValidationType = 'integrity' | 'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation';

/** What a check's failure does: `enforce` fails the signature, `log` warns and goes on, `skip` never runs it. */
export type ValidationAction = 'enforce' | 'log' | 'skip';

/** The preset verification levels a trust policy statement may name. */
export type VerificationLevelName = 'strict' | 'permissive' | 'audit' | 'skip';

/** A resolved verification level: a preset's name, or `custom` once `override` changed it, and one action per check. */
export interface VerificationLevel {
  readonly name: VerificationLevelName | 'custom';
  readonly actions: Readonly<Record<ValidationType, ValidationAction>>;
}

/** Every validation type, in the order notation-go lists them (and prints them in errors). */
export const VALIDATION_TYPES: readonly ValidationType[] = Object.freeze(['integrity', 'authenticity', 'authenticTimestamp', 'expiry', 'revocation']);

/** Every validation action, in the order notation-go lists them. */
export const VALIDATION_ACTIONS: readonly ValidationAction[] = Object.freeze(['enforce', 'log', 'skip']);

function level(name: VerificationLevelName, actions: Record<ValidationType, ValidationAction>): VerificationLevel {
  return Object.freeze({ name, actions: Object.freeze(actions) });
}

/** The preset levels, exactly as trust-store-trust-policy.md's table and notation-go's Level* values define them. */
export const LEVELS: Readonly<Record<VerificationLevelName, VerificationLevel>> = Object.freeze({
  strict: level('strict', { integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'enforce', expiry: 'enforce', revocation: 'enforce' }),
  permissive: level('permissive', { integrity: 'enforce', authenticity: 'enforce', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' }),
  audit: level('audit', { integrity: 'enforce', authenticity: 'log', authenticTimestamp: 'log', expiry: 'log', revocation: 'log' }),
  // notation-go: skip fetches no signature at all; every check is skipped.
  skip: level('skip', { integrity: 'skip', authenticity: 'skip', authenticTimestamp: 'skip', expiry: 'skip', revocation: 'skip' }),
});

/** The `signatureVerification` settings that choose a level: a preset name and optional per-check overrides. */
export interface LevelSettings {
  readonly level: string;
  readonly override?: Readonly<Record<string, string>> | undefined;
}

/** Go's %q for the strings Notation quotes in its messages. */
function quote(text: string): string {
  return JSON.stringify(text);
}

/** Go's %q of a []string, as notation-go prints the supported values: `["a" "b"]`. */
function quoteList(items: readonly string[]): string {
  return `[${items.map(quote).join(' ')}]`;
}

function isLevelName(name: string): name is VerificationLevelName {
  return Object.hasOwn(LEVELS, name);
}

function isValidationType(key: string): key is ValidationType {
  return (VALIDATION_TYPES as readonly string[]).includes(key);
}

function isValidationAction(value: string): value is ValidationAction {
  return (VALIDATION_ACTIONS as readonly string[]).includes(value);
}

function invalid(message: string): TrustPolicyError {
  return new TrustPolicyError('TRUST_POLICY_INVALID', message);
}

/**
 * Resolves a level name and its overrides into one frozen action per check; throws TrustPolicyError
 * (TRUST_POLICY_INVALID) with notation-go's GetVerificationLevel message when the settings break the rules.
 */
export function resolveVerificationLevel(settings: LevelSettings): VerificationLevel {
  if (settings.level === '') throw invalid('signature verification level is empty or missing in the trust policy statement');
  if (!isLevelName(settings.level)) throw invalid(`invalid signature verification level ${quote(settings.level)}`);
  const base = LEVELS[settings.level];
  const overrides = Object.entries(settings.override ?? {});
  // notation-go: an empty override map means the preset itself, name included.
  if (overrides.length === 0) return base;
  if (base.name === 'skip') throw invalid(`signature verification level ${quote(base.name)} can't be used to customize signature verification`);

  const actions: Record<ValidationType, ValidationAction> = { ...base.actions };
  // notation-go walks a Go map (random order); Sigil walks document order so the first error is stable.
  // Its checks run in this order: known type, known action, integrity, skip-only-for-revocation.
  for (const [key, value] of overrides) {
    if (!isValidationType(key)) {
      throw invalid(`verification type ${quote(key)} in custom signature verification is not supported, supported values are ${quoteList(VALIDATION_TYPES)}`);
    }
    if (!isValidationAction(value)) {
      throw invalid(`verification action ${quote(value)} in custom signature verification is not supported, supported values are ${quoteList(VALIDATION_ACTIONS)}`);
    }
    // trust-store-trust-policy.md: integrity is always enforced and cannot be overridden.
    if (key === 'integrity') throw invalid(`${quote(key)} verification can not be overridden in custom signature verification`);
    // trust-store-trust-policy.md: only revocation may be skipped.
    if (key !== 'revocation' && value === 'skip') throw invalid(`${quote(key)} verification can not be skipped in custom signature verification`);
    actions[key] = value;
  }
  return Object.freeze({ name: 'custom', actions: Object.freeze(actions) });
}
