// Answers white-pages searches (WP_REQUEST) for the people in a local table itself, with an
// ANKETA_INFO of the same seq; the server never sees those requests. Others go to the server.
const PEOPLE = [
  { Username: 'dasha', Domain: 'mail.ru', Nickname: 'Даша', FirstName: 'Дарья', LastName: 'Иванова', Sex: '2', Birthday: '1990-05-01' },
  { Username: 'robot', Domain: 'mail.ru', Nickname: 'Robot', FirstName: 'Robo', LastName: 'Tap', Sex: '1', Birthday: '' },
];
const COLUMNS = ['Username', 'Domain', 'Nickname', 'FirstName', 'LastName', 'Sex', 'Birthday'];
// WP_REQUEST criteria fields (reference §11.1): 0 user, 1 domain, 2 nickname.
const BY_FIELD = { 0: 'Username', 1: 'Domain', 2: 'Nickname' };

export function frame(frame, ctx) {
  if (frame.type !== 'WP_REQUEST') return;
  const criteria = frame.fields.criteria ?? [];
  const wanted = criteria.filter((c) => BY_FIELD[c.field]);
  if (!wanted.length) return;
  const rows = PEOPLE.filter((p) => wanted.every((c) => String(p[BY_FIELD[c.field]]).toLowerCase() === String(c.value).toLowerCase()));
  if (!rows.length) return;
  ctx.reply('ANKETA_INFO', { status: 1, maxRows: rows.length, serverTime: Math.floor(Date.now() / 1000), columns: COLUMNS, rows });
  return null;
}
