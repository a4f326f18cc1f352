// An addon that looks at every frame and changes nothing: what the addons' relay path costs by itself.
export function frame(frame, ctx) {
  ctx.state.frames = (ctx.state.frames ?? 0) + 1;
}
