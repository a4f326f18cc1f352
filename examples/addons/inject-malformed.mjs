// Tests a client with malformed frames: once it is logged in (LOGIN_ACK went by), the client gets a
// MESSAGE_ACK whose text length runs past the frame, one with an unknown packet type, and a UTF-16
// message of an odd number of bytes. A robust client survives all three and goes on working.
const header = (msg, seq, dlen) => {
  const h = Buffer.alloc(44);
  h.writeUInt32LE(0xdeadbeef, 0);
  h.writeUInt32LE(0x00010008, 4);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(msg, 12);
  h.writeUInt32LE(dlen, 16);
  return h;
};

export function frames() {
  const lps = (n, text) => Buffer.concat([Buffer.from([n & 255, (n >> 8) & 255, 0, 0]), Buffer.from(text, 'latin1')]);
  // MESSAGE_ACK (0x1009): msg_id, flags (NORECV 0x4: no MESSAGE_RECV wanted), from, text, rtf — the
  // text LPS claims 5000 bytes.
  const badText = Buffer.concat([Buffer.from([0, 0, 0, 0, 4, 0, 0, 0]), lps(12, 'fuzz@mail.ru'), lps(5000, 'short')]);
  return [
    Buffer.concat([header(0x1009, 0, badText.length), badText]),
    Buffer.concat([header(0x7777, 0, 4), Buffer.from('abcd')]),
    // Flag UNICODE (0x100000) with a 3-byte text: half a UTF-16 character too many.
    (() => {
      const odd = Buffer.concat([Buffer.from([1, 0, 0, 0, 4, 0, 0x10, 0]), lps(12, 'fuzz@mail.ru'), lps(3, 'a\0b'), lps(1, ' ')]);
      return Buffer.concat([header(0x1009, 0, odd.length), odd]);
    })(),
  ];
}

export function frame(frame, ctx) {
  if (frame.type !== 'LOGIN_ACK' || ctx.state.sent) return;
  ctx.state.sent = true;
  // After the LOGIN_ACK itself has gone on.
  setImmediate(() => {
    for (const bytes of frames()) ctx.inject('s2c', bytes);
  });
}
