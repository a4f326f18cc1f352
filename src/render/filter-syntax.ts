/**
 * The display filter's grammar: text to a tree of predicates, with `and`/`or`/`not` and parentheses.
 * What the names and values mean is filter.ts's business; this file only knows their shape.
 *
 *   expr  := and (('or' | '||') and)*
 *   and   := unary (('and' | '&&')? unary)*        terms side by side must all hold
 *   unary := ('not' | '!') unary | '(' expr ')' | FIELD [OP VALUE]
 */

export class FilterError extends Error {}

export type Operator = '==' | '!=' | '>' | '>=' | '<' | '<=' | '&' | 'contains' | 'matches';

export type FilterNode =
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; operand: FilterNode }
  /** `op` absent: the field is present (and not empty or zero). `quoted`: the value was a string literal. */
  | { kind: 'test'; field: string; op?: Operator; value?: string; quoted?: boolean };

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'op'; v: Operator; at: number }
  | { t: '(' | ')' | 'not' | 'and' | 'or'; at: number };

const SYMBOLS: ReadonlyArray<[string, Token['t'], Operator?]> = [
  ['==', 'op', '=='],
  ['!=', 'op', '!='],
  ['>=', 'op', '>='],
  ['<=', 'op', '<='],
  ['&&', 'and'],
  ['||', 'or'],
  ['=', 'op', '=='],
  ['>', 'op', '>'],
  ['<', 'op', '<'],
  ['&', 'op', '&'],
  ['!', 'not'],
  ['(', '('],
  [')', ')'],
];
const WORD_OPERATORS: Record<string, Token['t'] | Operator> = { and: 'and', or: 'or', not: 'not', contains: 'contains', matches: 'matches', '~': 'matches' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    const at = i;
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      let v = '';
      for (i++; i < text.length && text[i] !== quote; i++) v += text[i] === '\\' && i + 1 < text.length ? text[++i] : text[i];
      if (i >= text.length) throw new FilterError(`unterminated string starting at column ${at + 1}`);
      i++;
      tokens.push({ t: 'string', v, at });
      continue;
    }
    const symbol = SYMBOLS.find(([s]) => text.startsWith(s, i));
    if (symbol) {
      i += symbol[0].length;
      tokens.push(symbol[1] === 'op' ? { t: 'op', v: symbol[2]!, at } : ({ t: symbol[1], at } as Token));
      continue;
    }
    // A single `|` belongs to the word (`flags & UNICODE|CP1251`); `||` is an operator.
    const m = /^(?:[^\s()"'=!<>&|]|\|(?!\|))+/.exec(text.slice(i))!;
    i += m[0].length;
    const word = WORD_OPERATORS[m[0].toLowerCase()];
    if (word === 'and' || word === 'or' || word === 'not') tokens.push({ t: word, at });
    else if (word) tokens.push({ t: 'op', v: word as Operator, at });
    else tokens.push({ t: 'word', v: m[0], at });
  }
  return tokens;
}

/** Parses a filter expression; an empty one is `undefined` (everything passes). */
export function parseFilterSyntax(text: string): FilterNode | undefined {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const where = (tok: Token | undefined) => (tok ? `at column ${tok.at + 1}` : 'at the end');
  const describe = (tok: Token | undefined) => (!tok ? 'the end' : 'v' in tok ? `"${tok.v}"` : `"${tok.t}"`);

  function expr(): FilterNode {
    let left = and();
    while (peek()?.t === 'or') {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }
  function and(): FilterNode {
    let left = unary();
    for (;;) {
      const tok = peek();
      if (tok?.t === 'and') pos++;
      else if (!tok || tok.t === 'or' || tok.t === ')') return left;
      left = { kind: 'and', left, right: unary() };
    }
  }
  function unary(): FilterNode {
    const tok = tokens[pos++];
    if (tok?.t === 'not') return { kind: 'not', operand: unary() };
    if (tok?.t === '(') {
      const inner = expr();
      if (peek()?.t !== ')') throw new FilterError(`expected ")" ${where(peek())}, found ${describe(peek())}`);
      pos++;
      return inner;
    }
    if (tok?.t !== 'word') throw new FilterError(`expected a field name ${where(tok)}, found ${describe(tok)}`);
    const op = peek();
    if (op?.t !== 'op') return { kind: 'test', field: tok.v };
    pos++;
    const value = tokens[pos++];
    if (value?.t !== 'word' && value?.t !== 'string') throw new FilterError(`"${tok.v} ${op.v}" needs a value ${where(value)}, found ${describe(value)}`);
    return { kind: 'test', field: tok.v, op: op.v, value: value.v, ...(value.t === 'string' ? { quoted: true } : {}) };
  }

  if (tokens.length === 0) return undefined;
  const tree = expr();
  if (pos < tokens.length) throw new FilterError(`unexpected ${describe(peek())} ${where(peek())}`);
  return tree;
}
