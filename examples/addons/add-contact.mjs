// Adds a contact to every contact list the server sends (CONTACT_LIST2), in the first group: the
// client shows a buddy its server never heard of. ADD_CONTACT_EMAIL / ADD_CONTACT_NICK choose it.
const email = process.env.ADD_CONTACT_EMAIL ?? 'robot@mail.ru';
const nick = process.env.ADD_CONTACT_NICK ?? 'Robot';

export function frame(frame) {
  if (frame.type !== 'CONTACT_LIST2' || frame.fields.status !== 0) return;
  const contacts = frame.fields.contacts ?? [];
  if (contacts.some((c) => c.email === email)) return;
  // A copy of the first contact's record keeps every column the list's mask asks for.
  const model = contacts[0] ?? { flags: 0, group: 0, serverFlags: 0, status: 0, phones: '' };
  frame.fields.contacts = [...contacts, { ...model, email, nick, status: 1, group: 0 }];
  return frame;
}
