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
  private readonly byId = new Map<number, Expectation>();
  /** Expectations in recorded order, by type and by the request they answer; claimed ones are skipped. */
  private readonly byType = new Map<string, Expectation[]>();
  private readonly byAnswer = new Map<number, Expectation[]>();
  /** Where the first unclaimed one of a list may be: claims come mostly in order, so scans stay short. */
  private readonly heads = new Map<Expectation[], number>();

  constructor(
    expectations: readonly Expectation[],
    private readonly comparer: Comparer,
  ) {
    const add = <K>(map: Map<K, Expectation[]>, key: K, e: Expectation) => {
      const list = map.get(key);
      if (list) list.push(e);
      else map.set(key, [e]);
    };
    for (const e of expectations) {
      this.byId.set(e.id, e);
      add(this.byType, e.rec.frame.type, e);
      if (e.answers !== undefined) add(this.byAnswer, e.answers, e);
    }
  }

  /** The first unclaimed expectations of a list, in order. */
  private unclaimed(list: Expectation[] | undefined): Expectation[] {
    if (!list) return [];
    let head = this.heads.get(list) ?? 0;
    while (head < list.length && this.claims.has(list[head].id)) head++;
    this.heads.set(list, head);
    const out: Expectation[] = [];
    for (let i = head; i < list.length && out.length < EXACT_SEARCH_LIMIT; i++) if (!this.claims.has(list[i].id)) out.push(list[i]);
    return out;
  }

  /**
   * Pairs a live frame with an expectation; `answers` is the step of the request it answers live.
   * Returns the expectation, or undefined when nothing recorded corresponds (it is then unexpected).
   */
  claim(actual: DecodedFrame, answers: number | undefined, at: number): Expectation | undefined {
    const sameType = (e: Expectation) => e.rec.frame.type === actual.type;
    const correlated = answers === undefined ? [] : this.unclaimed(this.byAnswer.get(answers));
    const pool = correlated.length ? correlated : this.unclaimed(this.byType.get(actual.type));
    let chosen: { e: Expectation; diffs: FieldDiff[] } | undefined;
    for (const e of pool.filter(sameType)) {
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
    this.claims.set(chosen.e.id, { actual, diffs: chosen.diffs, at });
    return chosen.e;
  }

  /** Pairs a live frame with a given expectation, when the caller knows they correspond (the login packet of a session). */
  claimAs(id: number, actual: DecodedFrame, at: number): Expectation | undefined {
    const e = this.byId.get(id);
    if (!e || this.claims.has(id)) return undefined;
    this.claims.set(id, { actual, diffs: this.comparer.diff(e.rec.frame, actual), at });
    return e;
  }

  isClaimed(id: number): boolean {
    return this.claims.has(id);
  }
}
