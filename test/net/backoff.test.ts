/** The per-address lockout after failed logins: when it starts, how it grows, what clears it, its bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureBackoff, addressKey } from '../../src/net/backoff.js';

function clocked(opts: ConstructorParameters<typeof FailureBackoff>[0] = {}) {
  let t = 1_000_000;
  const backoff = new FailureBackoff({ ...opts, now: () => t });
  return { backoff, step: (ms: number) => (t += ms) };
}

describe('FailureBackoff', () => {
  it('allows the free failures, then locks out for a delay that doubles up to the maximum', () => {
    const { backoff } = clocked({ free: 3, baseDelayMs: 1000, maxDelayMs: 8000 });
    const delays = Array.from({ length: 7 }, () => backoff.failed('10.0.0.1'));
    assert.deepEqual(delays, [0, 0, 0, 1000, 2000, 4000, 8000]);
    assert.equal(backoff.lockedFor('10.0.0.1'), 8000);
    assert.equal(backoff.lockedFor('10.0.0.2'), 0);
  });

  it('the lockout runs out with time; a success clears the count', () => {
    const { backoff, step } = clocked({ free: 1, baseDelayMs: 500 });
    backoff.failed('10.0.0.1');
    assert.equal(backoff.failed('10.0.0.1'), 500);
    step(200);
    assert.equal(backoff.lockedFor('10.0.0.1'), 300);
    step(300);
    assert.equal(backoff.lockedFor('10.0.0.1'), 0);
    // The count stays: the next failure locks for longer.
    assert.equal(backoff.failed('10.0.0.1'), 1000);
    backoff.succeeded('10.0.0.1');
    assert.equal(backoff.lockedFor('10.0.0.1'), 0);
    assert.equal(backoff.failed('10.0.0.1'), 0);
  });

  it('forgets an address quiet for long, and remembers a bounded number of addresses', () => {
    const { backoff, step } = clocked({ free: 0, forgetAfterMs: 60_000, maxAddresses: 100 });
    backoff.failed('10.0.0.1');
    step(60_001);
    assert.equal(backoff.failed('10.0.0.1'), 1000, 'counted afresh');
    for (let i = 0; i < 1000; i++) backoff.failed(`10.1.${i >> 8}.${i & 255}`);
    assert.equal(backoff.size, 100);
    // The most recent failures are the ones kept.
    assert.ok(backoff.lockedFor('10.1.3.231') > 0);
    assert.equal(backoff.lockedFor('10.0.0.1'), 0);
  });

  it('counts IPv4-mapped addresses as IPv4 and IPv6 addresses by their /64', () => {
    assert.equal(addressKey('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    const { backoff } = clocked({ free: 0 });
    backoff.failed('2001:db8:0:1::5');
    assert.ok(backoff.lockedFor('2001:db8:0:1::99') > 0);
    assert.equal(backoff.lockedFor('2001:db8:0:2::5'), 0);
  });
});
