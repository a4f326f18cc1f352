/**
 * The Wireshark dissector for MRIM, generated from the packet table: a Lua plugin that names every
 * packet type, shows the header and the payload fields of every layout made of the table's field
 * vocabulary, and reassembles frames over TCP with Wireshark's own helper (dissect_tcp_pdus). Layouts
 * are resolved here for each protocol version; what the Lua cannot know from the table alone (a field
 * present only for some values of an earlier one, a hand-written record type) is shown as bytes.
 */
import { fieldContext, usualDir, type FieldContext, type FieldSpec, type Fields, type Layout, type WireShape } from '../protocol/fields.js';
import { HEADER_OFFSETS, HEADER_SIZE, MRIM_MAGIC } from '../protocol/header.js';
import { PACKETS, type PacketDef } from '../protocol/packets/index.js';
import type { Encoding } from '../protocol/text.js';

/** Minor versions the layouts are resolved for; a header announcing another uses the nearest. */
const MINORS = Array.from({ length: 24 }, (_, i) => i + 1);

type TextEncoding = Encoding | 'auto';

/** One field of a resolved layout, as the Lua walker reads it. */
type Entry =
  | { k: 'ul' | 'byte' | 'u64' | 'lps-bytes' | 'rest'; f: number; o?: true }
  | { k: 'fixed'; f: number; size: number; o?: true }
  | { k: 'lps-text' | 'cstring' | 'clps'; f: number; e: TextEncoding; o?: true }
  | { k: 'record' | 'repeat' | 'counted'; label: string; s: Entry[]; o?: true }
  /** The rest of the payload is not described by the table alone. */
  | { k: 'stop'; why: string };

interface LuaField {
  abbr: string;
  label: string;
  kind: 'uint32' | 'uint8' | 'uint64' | 'bytes' | 'string';
  base?: 'DEC' | 'HEX';
  values?: Readonly<Record<number, string>>;
}

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** A FieldContext for one version whose record records whether anything looked at it. */
function probe(minor: number, def: PacketDef): { ctx: FieldContext; looked: () => boolean } {
  let looked = false;
  const fields = new Proxy({} as Fields, {
    get: () => ((looked = true), undefined),
    has: () => ((looked = true), false),
  });
  const ctx = fieldContext(minor, usualDir(def.dir), fields);
  return { ctx, looked: () => looked };
}

const SAMPLES = [Buffer.from('a\0b\0', 'latin1'), Buffer.from('abcd'), Buffer.from('00112233445566778899aabbccddeeff', 'hex')];

/** The encoding a text field has in a version, or `auto` when the rule looks at other fields or at the bytes. */
function textEncoding(spec: FieldSpec, minor: number, def: PacketDef): TextEncoding {
  const rule = spec.type.rule;
  if (!rule) return 'auto';
  const { ctx, looked } = probe(minor, def);
  const plain = rule(ctx);
  if (looked() || SAMPLES.some((b) => rule(ctx, b) !== plain)) return 'auto';
  return plain;
}

class FieldRegistry {
  readonly fields: LuaField[] = [];
  private readonly byAbbr = new Map<string, number>();

  /** The index (1-based, as Lua counts) of the field with this name and wire form. */
  add(abbr: string, label: string, shape: WireShape): number {
    const field = luaField(abbr, label, shape);
    let key = abbr;
    // The same name with another wire form (another version or wire form of the packet) gets its own field.
    while (this.byAbbr.has(key) && JSON.stringify(this.fields[this.byAbbr.get(key)! - 1]) !== JSON.stringify({ ...field, abbr: key })) key += '_';
    const known = this.byAbbr.get(key);
    if (known) return known;
    this.fields.push({ ...field, abbr: key });
    this.byAbbr.set(key, this.fields.length);
    return this.fields.length;
  }
}

function luaField(abbr: string, label: string, shape: WireShape): LuaField {
  switch (shape.kind) {
    case 'ul': {
      const { values, flags, hex } = shape.opts;
      return { abbr, label, kind: 'uint32', base: flags || hex ? 'HEX' : 'DEC', ...(values ? { values } : {}) };
    }
    case 'byte':
      return { abbr, label, kind: 'uint8', base: 'DEC' };
    case 'u64':
      return { abbr, label, kind: 'uint64', base: 'DEC' };
    case 'fixed':
    case 'lps-bytes':
    case 'rest':
      return { abbr, label, kind: 'bytes' };
    default:
      return { abbr, label, kind: 'string' };
  }
}

/** A layout as one version reads it, down to the first field the table alone cannot place. */
function resolve(layout: Layout, minor: number, def: PacketDef, prefix: string, reg: FieldRegistry): Entry[] {
  const out: Entry[] = [];
  for (const spec of layout) {
    if (spec.when) {
      const { ctx, looked } = probe(minor, def);
      const present = spec.when(ctx);
      if (looked()) {
        out.push({ k: 'stop', why: `${spec.name}: present for some values of earlier fields` });
        break;
      }
      if (!present) continue;
    }
    const shape = spec.type.shape;
    if (!shape || spec.spread) {
      out.push({ k: 'stop', why: `${spec.name}: ${spec.type.wire}` });
      break;
    }
    const abbr = `${prefix}.${snake(spec.name)}`;
    const o = spec.optional ? ({ o: true } as const) : {};
    if (shape.kind === 'record' || shape.kind === 'repeat' || shape.kind === 'counted') {
      out.push({ k: shape.kind, label: spec.name, s: resolve(spec.type.layout ?? [], minor, def, abbr, reg), ...o });
    } else if (shape.kind === 'lps-text' || shape.kind === 'cstring' || shape.kind === 'clps') {
      out.push({ k: shape.kind, f: reg.add(abbr, spec.name, shape), e: textEncoding(spec, minor, def), ...o });
    } else if (shape.kind === 'fixed') {
      out.push({ k: 'fixed', f: reg.add(abbr, spec.name, shape), size: shape.size, ...o });
    } else {
      out.push({ k: shape.kind, f: reg.add(abbr, spec.name, shape), ...o });
    }
  }
  return out;
}

/** Each wire form of a packet, with its layout per range of versions (equal neighbours merged). */
function packetLayouts(def: PacketDef, reg: FieldRegistry): Array<{ name: string; ranges: Array<[number, number, Entry[]]> }> {
  const forms = def.variants ?? [{ name: '', layout: def.layout ?? [] }];
  return forms.map((form) => {
    const ranges: Array<[number, number, Entry[]]> = [];
    for (const minor of MINORS) {
      const entries = resolve(form.layout, minor, def, `mrim.${snake(def.name)}`, reg);
      const last = ranges.at(-1);
      if (last && JSON.stringify(last[2]) === JSON.stringify(entries)) last[1] = minor;
      else ranges.push([minor, minor, entries]);
    }
    return { name: form.name, ranges };
  });
}

// ---------------------------------------------------------------------------------------------------
// Lua text

const lstr = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
const hex = (n: number) => `0x${n.toString(16)}`;

function luaValue(v: unknown): string {
  if (typeof v === 'string') return lstr(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(luaValue).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k} = ${luaValue(x)}`)
    .join(', ')}}`;
}

function fieldDecl(f: LuaField, i: number): string {
  const values = f.values ? `, {${Object.entries(f.values).map(([k, v]) => `[${k}] = ${lstr(v)}`).join(', ')}}` : f.base ? ', nil' : '';
  const base = f.base ? `, base.${f.base}` : '';
  return `F[${i + 1}] = ProtoField.${f.kind}(${lstr(f.abbr)}, ${lstr(f.label)}${base}${values})`;
}

/** The whole plugin. `tool` names the generator in the file's first line (`mrimtap 0.1.0`). */
export function wiresharkDissector(tool: string): string {
  const reg = new FieldRegistry();
  const layouts = (PACKETS as readonly PacketDef[]).map((def) => [def, packetLayouts(def, reg)] as const);
  const names = (PACKETS as readonly PacketDef[]).map((p) => `  [${hex(p.code)}] = ${lstr(p.name)},`);
  const dirs = (PACKETS as readonly PacketDef[]).filter((p) => p.dir === 'c2s').map((p) => `[${hex(p.code)}] = true`);
  const tables = layouts.map(([def, forms]) => `L[${hex(def.code)}] = ${luaValue(forms.map((f) => ({ name: f.name, ranges: f.ranges.map(([lo, hi, e]) => ({ lo, hi, e })) })))}`);
  return [
    `-- mrim.lua: a Wireshark dissector for MRIM (MMP, Mail.ru Agent), generated by ${tool} from its packet table.`,
    '-- Do not edit: regenerate with `mrimtap export --dissector mrim.lua` (in the repository: npm run docs).',
    '-- Install: copy it to ~/.local/lib/wireshark/plugins/',
    '-- (Windows: %APPDATA%\\Wireshark\\plugins\\), or run wireshark -X lua_script:mrim.lua FILE.',
    '',
    'local mrim = Proto("mrim", "MRIM (Mail.ru Agent)")',
    `local MAGIC = ${hex(MRIM_MAGIC)}`,
    `local HEADER = ${HEADER_SIZE}`,
    `local AT = ${luaValue(HEADER_OFFSETS)}`,
    '',
    'local NAMES = {',
    ...names,
    '}',
    '-- Packets only a client sends: their header version is the session\'s.',
    `local FROM_CLIENT = {${dirs.join(', ')}}`,
    '',
    'local H = {',
    '  magic = ProtoField.uint32("mrim.magic", "Magic", base.HEX),',
    '  proto = ProtoField.string("mrim.proto", "Protocol version"),',
    '  seq = ProtoField.uint32("mrim.seq", "Sequence number"),',
    '  msg = ProtoField.uint32("mrim.msg", "Packet type", base.HEX, NAMES),',
    '  name = ProtoField.string("mrim.type", "Packet name"),',
    '  dlen = ProtoField.uint32("mrim.dlen", "Payload length"),',
    '  from = ProtoField.ipv4("mrim.from", "From address"),',
    '  from_port = ProtoField.uint32("mrim.from_port", "From port"),',
    '  reserved = ProtoField.bytes("mrim.reserved", "Reserved"),',
    '  rest = ProtoField.bytes("mrim.not_dissected", "Not dissected"),',
    '  minor = ProtoField.uint32("mrim.layout_minor", "Layout read as version 1.x"),',
    '}',
    '',
    'local F = {}',
    ...reg.fields.map(fieldDecl),
    '',
    'local all = {}',
    'for _, f in pairs(H) do all[#all + 1] = f end',
    'for _, f in ipairs(F) do all[#all + 1] = f end',
    'mrim.fields = all',
    '',
    '-- Layouts by packet type: each wire form, with its fields per range of protocol versions.',
    'local L = {}',
    ...tables,
    '',
    LUA_RUNTIME,
  ].join('\n');
}

/** The part of the plugin that is not generated: reading a resolved layout, and the TCP glue. */
const LUA_RUNTIME = String.raw`local ENCODINGS = { cp1251 = ENC_WINDOWS_1251, utf16le = ENC_UTF_16 + ENC_LITTLE_ENDIAN, utf8 = ENC_UTF_8, latin1 = ENC_ISO_8859_1 }

-- The guess mrimtap's decoder makes where the table leaves the encoding to the bytes.
local function guess(r)
  local n = r:len()
  if n >= 2 and n % 2 == 0 then
    local plausible = 0
    for i = 1, n - 1, 2 do
      local b = r:range(i, 1):uint()
      if b == 0 or b == 4 then plausible = plausible + 1 end
    end
    if plausible * 2 >= n / 2 then return "utf16le" end
  end
  for i = 0, n - 1 do
    local b = r:range(i, 1):uint()
    if b < 0x20 or b == 0x7f then return "hex" end
  end
  return "cp1251"
end

local function text(tvb, off, len, enc)
  if len == 0 then return "" end
  local r = tvb:range(off, len)
  if enc == "auto" then enc = guess(r) end
  if enc == "hex" then return string.lower(tostring(r:bytes())) end
  return r:string(ENCODINGS[enc])
end

local walk

-- One entry at off; returns the offset after it, or nil when it does not fit before stop.
-- With tree nil it only measures (to choose a wire form, or to end a repeated list).
local function entry(e, tvb, off, stop, tree)
  local k = e.k
  if k == "ul" or k == "byte" or k == "u64" or k == "fixed" then
    local n = (k == "ul" and 4) or (k == "byte" and 1) or (k == "u64" and 8) or e.size
    if off + n > stop then return nil end
    if tree then
      if k == "fixed" then tree:add(F[e.f], tvb:range(off, n)) else tree:add_le(F[e.f], tvb:range(off, n)) end
    end
    return off + n
  elseif k == "lps-text" or k == "lps-bytes" or k == "clps" or k == "record" then
    if off + 4 > stop then return nil end
    local len = tvb:range(off, 4):le_uint()
    if off + 4 + len > stop then return nil end
    if tree then
      local whole = tvb:range(off, 4 + len)
      if k == "lps-text" then
        tree:add(F[e.f], whole, text(tvb, off + 4, len, e.e))
      elseif k == "lps-bytes" then
        tree:add(F[e.f], whole, len > 0 and tvb:range(off + 4, len):bytes() or ByteArray.new())
      elseif k == "clps" then
        local sub = tree:add(mrim, whole, "CLPS")
        local at, items = off + 8, len >= 4 and tvb:range(off + 4, 4):le_uint() or 0
        sub:set_text(string.format("%d strings", items))
        for _ = 1, items do
          if at + 4 > off + 4 + len then break end
          local l = tvb:range(at, 4):le_uint()
          if at + 4 + l > off + 4 + len then break end
          sub:add(F[e.f], tvb:range(at, 4 + l), text(tvb, at + 4, l, e.e))
          at = at + 4 + l
        end
      else
        local sub = tree:add(mrim, whole, e.label)
        walk(e.s, tvb, off + 4, off + 4 + len, sub)
      end
    end
    return off + 4 + len
  elseif k == "cstring" then
    local at = off
    while at < stop and tvb:range(at, 1):uint() ~= 0 do at = at + 1 end
    if at >= stop then return nil end
    if tree then tree:add(F[e.f], tvb:range(off, at - off + 1), text(tvb, off, at - off, e.e)) end
    return at + 1
  elseif k == "rest" then
    if tree and stop > off then tree:add(F[e.f], tvb:range(off, stop - off)) end
    return stop
  elseif k == "repeat" or k == "counted" then
    local count
    if k == "counted" then
      if off + 4 > stop then return nil end
      count = tvb:range(off, 4):le_uint()
      off = off + 4
    end
    local sub = tree and tree:add(mrim, tvb:range(off - (count and 4 or 0), stop - off + (count and 4 or 0)), e.label)
    local i = 0
    while off < stop and (count == nil or i < count) do
      local after = walk(e.s, tvb, off, stop, nil)
      if not after or after == off then break end
      if sub then walk(e.s, tvb, off, stop, sub:add(mrim, tvb:range(off, after - off), string.format("[%d]", i))) end
      off = after
      i = i + 1
    end
    if sub then sub:append_text(string.format(" (%d)", i)) end
    return off
  elseif k == "stop" then
    if tree and stop > off then tree:add(H.rest, tvb:range(off, stop - off)):append_text(" (" .. e.why .. ")") end
    return stop
  end
end

-- A layout from off; returns the offset after it, or nil when a field ran past stop.
walk = function(entries, tvb, off, stop, tree)
  for _, e in ipairs(entries) do
    if off >= stop and e.o then return off end
    local after = entry(e, tvb, off, stop, tree)
    if not after then
      if tree and stop > off then tree:add(H.rest, tvb:range(off, stop - off)):append_text(" (truncated)") end
      return nil
    end
    off = after
  end
  return off
end

local function layout_for(form, minor)
  local best = form.ranges[1]
  for _, r in ipairs(form.ranges) do
    if minor >= r.lo and minor <= r.hi then return r.e end
    if minor > r.hi then best = r end
  end
  return best.e
end

-- The client's version per TCP stream, learnt from packets only a client sends.
local stream_minor = {}
local tcp_stream = Field.new("tcp.stream")

local function dissect_pdu(tvb, pinfo, tree)
  local code = tvb:range(AT.msg, 4):le_uint()
  local name = NAMES[code] or string.format("UNKNOWN(0x%04x)", code)
  local proto = tvb:range(AT.proto, 4):le_uint()
  local major, minor = bit32.rshift(proto, 16), bit32.band(proto, 0xffff)
  local stream = tcp_stream() and tcp_stream().value or -1
  if FROM_CLIENT[code] and not pinfo.visited then stream_minor[stream] = minor end
  local layout_minor = stream_minor[stream] or minor

  pinfo.cols.protocol = "MRIM"
  local info = tostring(pinfo.cols.info)
  if string.find(info, "MRIM ", 1, true) ~= 1 then pinfo.cols.info:set("MRIM " .. name) else pinfo.cols.info:append(", " .. name) end

  local t = tree:add(mrim, tvb:range(0, tvb:len()), "MRIM " .. name)
  t:add(H.name, tvb:range(AT.msg, 4), name)
  t:add_le(H.magic, tvb:range(AT.magic, 4))
  t:add(H.proto, tvb:range(AT.proto, 4), string.format("%d.%d", major, minor))
  t:add_le(H.seq, tvb:range(AT.seq, 4))
  t:add_le(H.msg, tvb:range(AT.msg, 4))
  t:add_le(H.dlen, tvb:range(AT.dlen, 4))
  t:add(H.from, tvb:range(AT.from, 4))
  t:add_le(H.from_port, tvb:range(AT.fromPort, 4))
  t:add(H.reserved, tvb:range(AT.reserved, HEADER - AT.reserved))
  t:add(H.minor, layout_minor):set_generated()

  local stop = math.min(tvb:len(), HEADER + tvb:range(AT.dlen, 4):le_uint())
  local forms = L[code]
  if not forms or stop <= HEADER then return end
  -- Of several wire forms, the first whose fields fill the payload exactly.
  local chosen = forms[1]
  for _, form in ipairs(forms) do
    if walk(layout_for(form, layout_minor), tvb, HEADER, stop, nil) == stop then chosen = form break end
  end
  if chosen.name ~= "" then t:append_text(" (" .. chosen.name .. ")") end
  local after = walk(layout_for(chosen, layout_minor), tvb, HEADER, stop, t)
  if after and after < stop then t:add(H.rest, tvb:range(after, stop - after)):append_text(" (trailing bytes)") end
end

local function pdu_length(tvb, pinfo, off)
  return HEADER + tvb:range(off + AT.dlen, 4):le_uint()
end

local function is_mrim(tvb)
  return tvb:len() >= 4 and tvb:range(0, 4):le_uint() == MAGIC
end

function mrim.dissector(tvb, pinfo, tree)
  if not is_mrim(tvb) then return 0 end
  dissect_tcp_pdus(tvb, tree, HEADER, pdu_length, dissect_pdu, true)
  return tvb:len()
end

-- Any port: a TCP stream whose segment starts with the magic is MRIM from then on.
local function heuristic(tvb, pinfo, tree)
  if not is_mrim(tvb) then return false end
  pinfo.conversation = mrim
  mrim.dissector(tvb, pinfo, tree)
  return true
end

mrim:register_heuristic("tcp", heuristic)
DissectorTable.get("tcp.port"):add(2041, mrim)
`;
