import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustPolicyError } from './errors.js';
import { LEVELS, VALIDATION_ACTIONS, VALIDATION_TYPES, resolveVerificationLevel, type ValidationAction, type ValidationType, type VerificationLevelName } from './levels.js';

function assertInvalid(fn: () => unknown, fragment: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TrustPolicyError, `expected TrustPolicyError, got ${String(error)}`);
    assert.equal(error.code, 'TRUST_POLICY_INVALID');
    assert.ok(error.message.includes(fragment), `${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  });
}

// trust-store-trust-policy.md, Verification levels (notation-go Level* tables).
const TABLE: Record<VerificationLevelName, readonly ValidationAction[]> = {
  strict: ['enforce', 'enforce', 'enforce', 'enforce', 'enforce'],
  permissive: ['enforce', 'enforce', 'log', 'log', 'log'],
  audit: ['enforce', 'log', 'log', 'log', 'log'],
  skip: ['skip', 'skip', 'skip', 'skip', 'skip'],
};

describe('LEVELS', () => {
  for (const [name, expected] of Object.entries(TABLE) as [VerificationLevelName, readonly ValidationAction[]][]) {
    it(`gives ${name} the spec's actions`, () => {
      assert.deepEqual(
        VALIDATION_TYPES.map((t) => LEVELS[name].actions[t]),
        expected,
      );
      assert.equal(LEVELS[name].name, name);
    });
  }

  it('is frozen all the way down', () => {
    assert.ok(Object.isFrozen(LEVELS));
    for (const level of Object.values(LEVELS)) {
      assert.ok(Object.isFrozen(level));
      assert.ok(Object.isFrozen(level.actions));
    }
  });
});

describe('resolveVerificationLevel', () => {
  it('returns the preset itself when there is no override or an empty one', () => {
    for (const name of Object.keys(TABLE) as VerificationLevelName[]) {
      assert.equal(resolveVerificationLevel({ level: name }), LEVELS[name]);
      assert.equal(resolveVerificationLevel({ level: name, override: {} }), LEVELS[name]);
    }
  });

  it('rejects an empty level', () => {
    assertInvalid(() => resolveVerificationLevel({ level: '' }), 'signature verification level is empty or missing in the trust policy statement');
  });

  it('rejects an unknown level, even one differing only in case', () => {
    assertInvalid(() => resolveVerificationLevel({ level: 'invalid' }), 'invalid signature verification level "invalid"');
    assertInvalid(() => resolveVerificationLevel({ level: 'Strict' }), 'invalid signature verification level "Strict"');
    assertInvalid(() => resolveVerificationLevel({ level: 'custom' }), 'invalid signature verification level "custom"');
  });

  it('rejects an unknown level before looking at overrides', () => {
    assertInvalid(() => resolveVerificationLevel({ level: 'invalid', override: { authenticity: 'log' } }), 'invalid signature verification level "invalid"');
  });

  it('rejects an unknown validation type naming the supported ones', () => {
    assertInvalid(
      () => resolveVerificationLevel({ level: 'strict', override: { invalid: 'log' } }),
      'verification type "invalid" in custom signature verification is not supported, supported values are ["integrity" "authenticity" "authenticTimestamp" "expiry" "revocation"]',
    );
  });

  it('rejects an unknown action naming the supported ones, before the integrity rule', () => {
    assertInvalid(
      () => resolveVerificationLevel({ level: 'strict', override: { authenticity: 'invalid' } }),
      'verification action "invalid" in custom signature verification is not supported, supported values are ["enforce" "log" "skip"]',
    );
    assertInvalid(() => resolveVerificationLevel({ level: 'strict', override: { integrity: 'Enforce' } }), 'verification action "Enforce"');
  });

  it('reports the first bad override in document order', () => {
    assertInvalid(() => resolveVerificationLevel({ level: 'strict', override: { expiry: 'skip', integrity: 'log' } }), '"expiry" verification can not be skipped');
  });

  // Every preset × every type × every action: allowed ones give a custom level with just that action
  // changed; forbidden ones give notation-go's message.
  for (const name of Object.keys(TABLE) as VerificationLevelName[]) {
    for (const type of VALIDATION_TYPES) {
      for (const action of VALIDATION_ACTIONS) {
        const forbidden: string | undefined =
          name === 'skip'
            ? `signature verification level "skip" can't be used to customize signature verification`
            : type === 'integrity'
              ? `"integrity" verification can not be overridden in custom signature verification`
              : action === 'skip' && type !== 'revocation'
                ? `"${type}" verification can not be skipped in custom signature verification`
                : undefined;
        it(`${forbidden === undefined ? 'allows' : 'forbids'} ${name} with ${type}=${action}`, () => {
          const settings = { level: name, override: { [type]: action } };
          if (forbidden !== undefined) {
            assertInvalid(() => resolveVerificationLevel(settings), forbidden);
            return;
          }
          const resolved = resolveVerificationLevel(settings);
          assert.equal(resolved.name, 'custom');
          const expected = Object.fromEntries(VALIDATION_TYPES.map((t, i) => [t, t === type ? action : TABLE[name][i]])) as Record<ValidationType, ValidationAction>;
          assert.deepEqual(resolved.actions, expected);
          assert.ok(Object.isFrozen(resolved) && Object.isFrozen(resolved.actions));
        });
      }
    }
  }

  it('applies several overrides at once, as override_audit_trustpolicy.json does', () => {
    const resolved = resolveVerificationLevel({
      level: 'audit',
      override: { revocation: 'enforce', expiry: 'enforce', authenticTimestamp: 'enforce', authenticity: 'enforce' },
    });
    assert.equal(resolved.name, 'custom');
    assert.deepEqual(resolved.actions, LEVELS.strict.actions);
  });

  it('calls an override that changes nothing custom all the same, as notation-go does', () => {
    assert.equal(resolveVerificationLevel({ level: 'strict', override: { authenticity: 'enforce' } }).name, 'custom');
  });

  it('never lets an override change the presets', () => {
    resolveVerificationLevel({ level: 'strict', override: { authenticity: 'log' } });
    assert.equal(LEVELS.strict.actions.authenticity, 'enforce');
  });
});
