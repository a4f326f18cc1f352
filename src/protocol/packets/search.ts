/** White-pages search, profiles and id lookups. */
import * as K from '../constants.js';
import { countedType, field, readLps, repeatType, restType, spread, TRUNCATED, ul, type FieldType, type Fields, type Layout } from '../fields.js';
import { decodeText, encodeText, textType, type EncodingRule } from '../text-fields.js';
import { packet } from './def.js';
import { ascii, asciiOrUnicodeText, str, versionText } from './rules.js';

/** ANKETA_INFO columns and rows (§11.2): rows are objects keyed by column name, in column order. */
// [CONFLICT] MIR: only the text columns are UTF-16LE; P1412: every value. Text columns follow MIR;
// the others are read as UTF-16LE when their bytes look like it.
const anketaRule = (column: string): EncodingRule => (K.ANKETA_TEXT_COLUMNS.has(column.toLowerCase()) ? versionText : asciiOrUnicodeText);

/**
 * WP_REQUEST values are text in the session's encoding. [CONFLICT §11.1] The reference's table (MRA,
 * MIR) gives only the names (2–4) that encoding and sends numbers and the address parts as ASCII; P1412
 * says every value is UTF-16LE, and mrim-prpl 1.22 sends them so ("2" as 32 00). Names follow the
 * session's encoding; from 1.16 any other value does too when its bytes look like UTF-16LE, so both
 * forms decode. Encoding writes the other values in ASCII, as the table.
 */
const wpValueText: EncodingRule = (c, bytes) => (K.WP_TEXT_FIELDS.has(Number(c.fields.field)) ? versionText : asciiOrUnicodeText)(c, bytes);

/** `mrim_status` holds a status value as hex text (§11.2); SRV sends 3 (UNDETERMINATED) for users whose status is not public. */
const describeStatusHex = (v: string): string | undefined => (/^[0-9a-f]{1,8}$/i.test(v) ? `${K.STATUS[parseInt(v, 16)] ?? 'unknown'} (0x${v})` : undefined);

/** The layout of ANKETA_INFO rows, for the listing: each column's text by its rule, `mrim_status` named. */
function anketaRowLayout(columns: readonly string[]): Layout {
  return columns.map((name) => field(name, textType(anketaRule(name), 'LPS', name.toLowerCase() === 'mrim_status' ? describeStatusHex : undefined)));
}

const anketaType: FieldType<Fields> = {
  wire: 'F × LPS names, rows × F × LPS',
  empty: {},
  keys: ['maxRows', 'serverTime', 'columns', 'rows'],
  // The scalar keys, for the listing (rows by their columns, below).
  layout: [ul('maxRows'), ul('serverTime', { time: true })],
  recordLayouts: (f) => ({ rows: anketaRowLayout(Array.isArray(f.columns) ? (f.columns as string[]) : []) }),
  decode(r, c) {
    const count = r.ul();
    const maxRows = r.ul();
    const serverTime = r.ul();
    if (count === undefined || maxRows === undefined || serverTime === undefined) return TRUNCATED;
    const columns: string[] = [];
    for (let i = 0; i < count; i++) {
      const b = readLps(r, c, `columns.${i}`);
      if (b === TRUNCATED) {
        // The payload ends inside the list: say so, or the frame would pass for one with fewer columns.
        c.warnings.push(`ANKETA_INFO announces ${count} columns, the payload holds ${columns.length}`);
        return { maxRows, serverTime, columns, rows: [] };
      }
      columns.push(decodeText(b, ascii, c, `columns.${i}`, true));
    }
    const rows: Fields[] = [];
    while (!r.atEnd && columns.length > 0) {
      const start = r.pos;
      const row: Fields = {};
      for (const [i, name] of columns.entries()) {
        const b = readLps(r, c, `rows.${rows.length}.${name}`);
        if (b === TRUNCATED) {
          r.pos = start;
          c.warnings.push(`ANKETA_INFO row ${rows.length} is incomplete: kept as trailing bytes`);
          return { maxRows, serverTime, columns, rows };
        }
        row[columns[i]] = decodeText(b, anketaRule(name), c, `rows.${rows.length}.${name}`);
      }
      rows.push(row);
    }
    return { maxRows, serverTime, columns, rows };
  },
  encode(w, v, c) {
    const f = v as Fields;
    const columns = (Array.isArray(f.columns) ? f.columns : []) as string[];
    w.ul(columns.length).ul(Number(f.maxRows ?? 0)).ul(Number(f.serverTime ?? 0));
    columns.forEach((name, i) => w.lps(encodeText(name, ascii, c, `columns.${i}`)));
    ((Array.isArray(f.rows) ? f.rows : []) as Fields[]).forEach((row, i) =>
      columns.forEach((name) => w.lps(encodeText(row[name] ?? '', anketaRule(name), c, `rows.${i}.${name}`))),
    );
  },
};

export const SEARCH_PACKETS = [
  packet({
    code: 0x1028,
    name: 'ANKETA_INFO',
    dir: 's2c',
    section: '11.2',
    summary: 'search results / profile (same seq as WP_REQUEST)',
    layout: [ul('status', { values: K.ANKETA_STATUS }), spread('result', anketaType, { optional: true })],
    reply: { requests: ['WP_REQUEST'], by: 'seq' },
  }),
  packet({
    code: 0x1029,
    name: 'WP_REQUEST',
    dir: 'c2s',
    section: '11.1',
    summary: 'search ("white pages") by criteria',
    layout: [
      field(
        'criteria',
        repeatType(
          [
            ul('field', { values: K.WP_FIELD }),
            str('value', wpValueText),
          ],
          '(UL field, LPS value)…',
        ),
      ),
    ],
  }),
  packet({
    code: 0x1042,
    name: 'LOOKUP_USER_BY_ID',
    dir: 'c2s',
    section: '11.3',
    summary: 'resolve web-link ids to addresses',
    layout: [field('ids', countedType([str('id', ascii)]))],
  }),
  packet({
    code: 0x1043,
    name: 'LOOKUP_USER_BY_ID_ANSWER',
    dir: 's2c',
    section: '11.3',
    summary: 'addresses for LOOKUP_USER_BY_ID',
    layout: [ul('status', { values: K.LOOKUP_STATUS }), field('emails', countedType([str('email', ascii)]))],
    reply: { requests: ['LOOKUP_USER_BY_ID'], by: 'seq' },
  }),
  packet({
    code: 0x1109,
    name: 'SELECT_ANKETAS',
    dir: 'c2s',
    section: '11.4',
    summary: 'profile fields for accounts [TLV layout unknown]',
    layout: [field('data', restType)],
    unknownLayout: true,
  }),
  packet({
    code: 0x1110,
    name: 'ANKETAS',
    dir: 's2c',
    section: '11.4',
    summary: 'profiles [TLV layout unknown]',
    layout: [field('data', restType)],
    reply: { requests: ['SELECT_ANKETAS'], by: 'seq' },
    unknownLayout: true,
  }),
];
