// Rewrites the text of every message in flight, both ways: what the client sends (MESSAGE) and what it
// gets (MESSAGE_ACK). Set REWRITE_FROM / REWRITE_TO to choose; by default "hello" becomes "bonjour".
const from = new RegExp(process.env.REWRITE_FROM ?? 'hello', 'gi');
const to = process.env.REWRITE_TO ?? 'bonjour';

export function frame(frame) {
  if (frame.type !== 'MESSAGE' && frame.type !== 'MESSAGE_ACK') return;
  if (typeof frame.fields.text !== 'string') return;
  frame.fields.text = frame.fields.text.replace(from, to);
  return frame;
}
