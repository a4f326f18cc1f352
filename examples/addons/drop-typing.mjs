// Drops typing notifications (MESSAGE / MESSAGE_ACK with the NOTIFY flag): nobody sees "is typing…".
const NOTIFY = 0x400;

export function frame(frame, ctx) {
  if ((frame.type === 'MESSAGE' || frame.type === 'MESSAGE_ACK') && (frame.fields.flags & NOTIFY)) {
    ctx.state.dropped = (ctx.state.dropped ?? 0) + 1;
    return null;
  }
}

export function close(ctx) {
  if (ctx.state.dropped) ctx.note(`${ctx.state.dropped} typing notification(s) dropped`);
}
