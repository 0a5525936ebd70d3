/** Parts bench variant of `src/wire/frames.ts`: every stream frame parsed whole with `JSON.parse`. */
export class FrameParser {
  parse(text: string): unknown {
    return JSON.parse(text);
  }
}
