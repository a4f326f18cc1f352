/**
 * Pairing the frames a replay expects (recorded ones) with the frames that arrive live, sans-IO, as
 * they arrive. A live reply is paired with what the recording answered to the same request, whatever
 * its type (LOGIN_REJ where LOGIN_ACK was recorded is a difference, not a missing and an unexpected
 * frame); anything else with a recorded frame of its type, an identical one first, else the earliest.
 */
import type { DecodedFrame } from '../protocol/codec.js';
import type { Comparer, FieldDiff } from './compare.js';
import type { RecordedFrame } from './recording.js';

export interface Expectation {
  /** The step it is, in the replay's numbering. */
  id: number;
  rec: RecordedFrame;
  /** The step of the request it answered in the recording. */
  answers?: number;
}

export interface Claim {
  actual: DecodedFrame;
  diffs: FieldDiff[];
  /** When it arrived (ms). */
  at: number;
}

export interface Unexpected {
  actual: DecodedFrame;
  at: number;
}

/** How many candidates of one type are compared in search of an identical one (a long list of USER_STATUS…). */
const EXACT_SEARCH_LIMIT = 64;

export class FrameMatcher {
  readonly claims = new Map<number, Claim>();
  readonly unexpected: Unexpected[] = [];
  private open: Expectation[];

  constructor(
    expectations: readonly Expectation[],
    private readonly comparer: Comparer,
  ) {
    this.open = [...expectations];
  }

  /**
   * Pairs a live frame with an expectation; `answers` is the step of the request it answers live.
   * Returns the expectation, or undefined when nothing recorded corresponds (it is then unexpected).
   */
  claim(actual: DecodedFrame, answers: number | undefined, at: number): Expectation | undefined {
    const sameType = (e: Expectation) => e.rec.frame.type === actual.type;
    const correlated = answers === undefined ? [] : this.open.filter((e) => e.answers === answers);
    const pool = correlated.length ? correlated : this.open.filter(sameType);
    let chosen: { e: Expectation; diffs: FieldDiff[] } | undefined;
    for (const e of pool.filter(sameType).slice(0, EXACT_SEARCH_LIMIT)) {
      const diffs = this.comparer.diff(e.rec.frame, actual);
      if (!diffs.length) {
        chosen = { e, diffs };
        break;
      }
      chosen ??= { e, diffs };
    }
    // A reply of another type to the same request (LOGIN_REJ for LOGIN_ACK, FAILURE for OK).
    if (!chosen && correlated.length) chosen = { e: correlated[0], diffs: this.comparer.diff(correlated[0].rec.frame, actual) };
    if (!chosen) {
      this.unexpected.push({ actual, at });
      return undefined;
    }
    this.take(chosen.e, actual, chosen.diffs, at);
    return chosen.e;
  }

  /** Pairs a live frame with a given expectation, when the caller knows they correspond (the login packet of a session). */
  claimAs(id: number, actual: DecodedFrame, at: number): Expectation | undefined {
    const e = this.open.find((x) => x.id === id);
    if (e) this.take(e, actual, this.comparer.diff(e.rec.frame, actual), at);
    return e;
  }

  private take(e: Expectation, actual: DecodedFrame, diffs: FieldDiff[], at: number): void {
    this.open = this.open.filter((x) => x !== e);
    this.claims.set(e.id, { actual, diffs, at });
  }

  isClaimed(id: number): boolean {
    return this.claims.has(id);
  }
}
